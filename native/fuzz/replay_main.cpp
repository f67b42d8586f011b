// Runs abi_fuzzer.cpp's LLVMFuzzerTestOneInput once on every file named on the command line (or
// found in a directory named there), without libFuzzer: how the committed corpus and the
// regression inputs are replayed by CTest in every build of the test suite (Release, the
// AddressSanitizer + UndefinedBehaviorSanitizer build, and under valgrind).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int replay(const std::filesystem::path& file) {
    std::ifstream stream(file, std::ios::binary);
    if (!stream) {
        std::fprintf(stderr, "abi_fuzzer_replay: cannot read %s\n", file.string().c_str());
        return 1;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.string().c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int failures = 0;
    std::size_t inputs = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path path(argv[i]);
        if (std::filesystem::is_directory(path)) {
            std::vector<std::filesystem::path> files;
            for (const auto& entry : std::filesystem::directory_iterator(path)) {
                if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
            }
            std::sort(files.begin(), files.end());
            for (const auto& file : files) {
                failures += replay(file);
                ++inputs;
            }
        } else {
            failures += replay(path);
            ++inputs;
        }
    }
    std::fprintf(stderr, "abi_fuzzer_replay: %zu input(s) replayed, every invariant held\n", inputs);
    return failures == 0 ? 0 : 1;
}
