#include "core/errors.h"

#include <cstdio>
#include <cstdlib>

namespace nab {

std::string format_value(double value) {
    // The shortest %g text that reads back as the same double: "0.1", not "0.10000000000000001".
    char text[64];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(text, sizeof text, "%.*g", precision, value);
        if (std::strtod(text, nullptr) == value || value != value) break;
    }
    return text;
}

}  // namespace nab
