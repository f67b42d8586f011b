// Errors inside the core: thrown as nab::Error, turned into a status and the thread-local
// last-error message at the C ABI boundary (api/c_api.cpp). Nothing is thrown across it.
#pragma once

#include <exception>
#include <string>

#include "native_adabelief.h"

namespace nab {

class Error : public std::exception {
public:
    Error(nab_status status, std::string message) : status_(status), message_(std::move(message)) {}
    nab_status status() const noexcept { return status_; }
    const char* what() const noexcept override { return message_.c_str(); }

private:
    nab_status status_;
    std::string message_;
};

[[noreturn]] inline void fail(nab_status status, std::string message) {
    throw Error(status, std::move(message));
}

// Text of a double that round-trips ("1.5", "nan", "inf", "1e-16"), for messages that
// must name the value they refuse.
std::string format_value(double value);

// The calling thread's last-error slot.
void set_last_error(const char* message) noexcept;
void clear_last_error() noexcept;
const char* last_error() noexcept;

}  // namespace nab
