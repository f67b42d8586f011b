#include "api/last_error.h"

#include <cstring>

namespace nab::api {

namespace {
thread_local char t_message[1024] = "";
thread_local char t_argument[128] = "";

template <std::size_t N>
void copy_truncated(char (&slot)[N], const char* text) noexcept {
    std::strncpy(slot, text, N - 1);
    slot[N - 1] = '\0';
}
}  // namespace

void set_last_error(const char* message, const char* argument) noexcept {
    copy_truncated(t_message, message);
    copy_truncated(t_argument, argument);
}

const char* last_error() noexcept { return t_message; }

const char* last_error_argument() noexcept { return t_argument; }

}  // namespace nab::api
