// Errors inside the library: thrown as nab::Error, turned into a status and the thread-local
// last-error message only at the C ABI (api/). Core code names what is wrong in its own terms;
// when the problem is one argument, it names that argument by its field name (for example
// "learning_rate" or "parameters"), and the ABI layer qualifies it with what the caller called
// it ("options.learning_rate", "tensor->parameters").
#pragma once

#include <exception>
#include <string>

namespace nab {

// What kind of failure, independent of how the ABI spells it.
enum class ErrorCode {
    InvalidArgument,  // an argument is null, out of range or inconsistent
    NotFound,         // a group or tensor id that does not exist
    OutOfMemory,      // an allocation failed (host or device)
    Unsupported,      // valid, but this build or machine cannot serve it
    Busy,             // the object is in use by another thread
    DeviceError,      // a device (CUDA) call failed
    Internal          // a bug in this library
};

class Error : public std::exception {
public:
    // `argument`: the field the error is about ("" when it is about none); `message` then
    // continues after its name, e.g. argument "beta1", message "= 1 is invalid: ...".
    Error(ErrorCode code, std::string message, std::string argument = {})
        : code_(code), argument_(std::move(argument)), message_(std::move(message)) {
        compose();
    }
    ErrorCode code() const noexcept { return code_; }
    const std::string& argument() const noexcept { return argument_; }
    const char* what() const noexcept override { return text_.c_str(); }

    // Puts the caller's name of the argument in front ("options." + "beta1"); no-op when the
    // error names no argument.
    void qualify(const std::string& prefix) {
        if (argument_.empty()) return;
        argument_ = prefix + argument_;
        compose();
    }

private:
    void compose() { text_ = argument_.empty() ? message_ : argument_ + " " + message_; }
    ErrorCode code_;
    std::string argument_;
    std::string message_;
    std::string text_;
};

[[noreturn]] inline void fail(ErrorCode code, std::string message) { throw Error(code, std::move(message)); }

// An error about one argument: `message` continues after the argument's name.
[[noreturn]] inline void fail_argument(std::string argument, std::string message,
                                       ErrorCode code = ErrorCode::InvalidArgument) {
    throw Error(code, std::move(message), std::move(argument));
}

// Text of a double that round-trips ("1.5", "nan", "inf", "1e-16"), for messages that
// must name the value they refuse.
std::string format_value(double value);

}  // namespace nab
