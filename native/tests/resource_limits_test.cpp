// Running out of a machine resource is a clear, documented error, not "internal error": here the
// threads of a CPU optimizer, in a child process whose address space is capped so that thread
// stacks cannot be mapped (a non-root user would meet ulimit -u the same way).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "native_adabelief.h"

#if defined(__linux__)
#  include <sys/mman.h>
#  include <sys/resource.h>
#  include <sys/wait.h>
#  include <unistd.h>
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define NAB_TEST_UNDER_SANITIZER 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define NAB_TEST_UNDER_SANITIZER 1
#  endif
#endif

namespace {

#if defined(__linux__) && !defined(NAB_TEST_UNDER_SANITIZER)
constexpr rlim_t kAddressSpaceCap = 512UL << 20;

// Whether this system enforces an address-space cap, tried in a child: qemu-user (the linux-arm64
// tests) ignores RLIMIT_AS for the program it emulates, so mapping 1 GiB under a 512 MiB cap works.
bool address_space_cap_enforced() {
    const pid_t child = fork();
    if (child == 0) {
        struct rlimit limit {};
        limit.rlim_cur = limit.rlim_max = kAddressSpaceCap;
        if (setrlimit(RLIMIT_AS, &limit) != 0) std::_Exit(1);
        void* mapped = mmap(nullptr, std::size_t{1} << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        std::_Exit(mapped == MAP_FAILED ? 0 : 1);
    }
    int status = 0;
    return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// In the child: cap the address space just above what is mapped now, ask for many threads, and
// exit with 0 only if the library answered OUT_OF_MEMORY with a message naming the thread limit.
[[noreturn]] void create_with_too_little_address_space() {
    struct rlimit limit {};
    limit.rlim_cur = limit.rlim_max = kAddressSpaceCap;  // stacks of 8 MiB: far fewer than 1024 fit
    if (setrlimit(RLIMIT_AS, &limit) != 0) std::_Exit(3);
    nab_optimizer_config config{};
    if (nab_optimizer_config_init(&config) != NAB_STATUS_OK) std::_Exit(4);
    config.thread_count = 1024;
    nab_optimizer* optimizer = nullptr;
    const nab_status status = nab_optimizer_create(&config, &optimizer);
    const bool named = std::strstr(nab_get_last_error(), "could not start worker thread") != nullptr;
    std::_Exit(status == NAB_STATUS_OUT_OF_MEMORY && optimizer == nullptr && named ? 0 : 10 + status);
}
#endif

TEST(ResourceLimitsTest, ThreadsThatCannotStartAreAResourceErrorAndNothingIsCreated) {
#if !defined(__linux__)
    GTEST_SKIP() << "the address-space cap (setrlimit RLIMIT_AS) is Linux's; other systems are not tested for this";
#elif defined(NAB_TEST_UNDER_SANITIZER)
    GTEST_SKIP() << "sanitizer runtimes reserve terabytes of address space, which the cap this test sets would break";
#else
    if (!address_space_cap_enforced()) {
        GTEST_SKIP() << "this system does not enforce RLIMIT_AS (qemu-user ignores it for the program it emulates)";
    }
    testing::FLAGS_gtest_death_test_style = "threadsafe";  // GoogleTest 1.10 (Debian 11) has no GTEST_FLAG_SET
    EXPECT_EXIT(create_with_too_little_address_space(), testing::ExitedWithCode(0), "");
#endif
}

}  // namespace
