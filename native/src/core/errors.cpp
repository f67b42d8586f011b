#include "core/errors.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nab {

namespace {
// Fixed-size so that recording an error can never itself fail (no allocation).
thread_local char t_last_error[1024] = "";
}  // namespace

std::string format_value(double value) {
    // The shortest %g text that reads back as the same double: "0.1", not "0.10000000000000001".
    char text[64];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(text, sizeof text, "%.*g", precision, value);
        if (std::strtod(text, nullptr) == value || value != value) break;
    }
    return text;
}

void set_last_error(const char* message) noexcept {
    std::strncpy(t_last_error, message, sizeof t_last_error - 1);
    t_last_error[sizeof t_last_error - 1] = '\0';
}

void clear_last_error() noexcept { t_last_error[0] = '\0'; }

const char* last_error() noexcept { return t_last_error; }

}  // namespace nab
