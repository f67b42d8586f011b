# Cross-compiling for linux-arm64 with Debian's g++-aarch64-linux-gnu (its C library and
# libstdc++ under /usr/aarch64-linux-gnu). ./build.sh uses it inside the Debian 11 root, so the
# library needs no newer glibc than the linux-x64 one (README: Platforms).
#
#   cmake -S . -B build/linux-arm64 -DCMAKE_TOOLCHAIN_FILE=native/cmake/toolchains/aarch64-linux-gnu.cmake \
#     -DNAB_TARGET_PREFIXES=<GoogleTest built and installed with this file>
#
# CTest runs every test executable through qemu-aarch64 (user-mode emulation). Its -L is the
# prefix where qemu finds the arm64 loader and libraries: '/' when Debian's arm64 multiarch C
# library (libc6:arm64) is installed, which .NET's own dependencies (libssl) need, else the cross
# tree. Not one with the other: the cross tree's loader with the multiarch libc.so.6 (another
# build) was seen to spin forever at start-up.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# The target's libraries: the cross compiler's tree, and prefixes of libraries built for the
# target (GoogleTest, by tools/build-platform.sh; CMake 3.18's FindGTest searches only there).
set(NAB_TARGET_PREFIXES "" CACHE STRING "Prefixes of libraries built for the target")
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu ${NAB_TARGET_PREFIXES})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Packages also from the host's paths: the installed library's own CMake package, which the C
# consumer test finds through CMAKE_PREFIX_PATH.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

if(EXISTS /lib/ld-linux-aarch64.so.1)
  set(NAB_QEMU_PREFIX / CACHE PATH "qemu-aarch64 -L: where the arm64 loader and libraries are")
else()
  set(NAB_QEMU_PREFIX /usr/aarch64-linux-gnu CACHE PATH "qemu-aarch64 -L: where the arm64 loader and libraries are")
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${NAB_QEMU_PREFIX})
