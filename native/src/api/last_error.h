// The calling thread's last error, as nab_get_last_error() and nab_get_last_error_argument()
// return it: fixed-size thread-local slots, so recording an error can never itself fail.
#pragma once

namespace nab::api {

void set_last_error(const char* message, const char* argument) noexcept;
const char* last_error() noexcept;
const char* last_error_argument() noexcept;

}  // namespace nab::api
