# Cross-compiling for win-x64 with Debian's MinGW-w64 g++ (g++-mingw-w64-x86-64-posix). The
# posix thread model, because the win32 one has no std::thread or std::mutex; the library links
# libgcc, libstdc++ and winpthreads statically (native/src/CMakeLists.txt), so the DLL needs
# only Windows' own DLLs. ./build.sh uses it on the build machine itself: nothing of Linux's
# glibc reaches a Windows DLL.
#
#   cmake -S . -B build/win-x64 -DCMAKE_TOOLCHAIN_FILE=native/cmake/toolchains/x86_64-w64-mingw32.cmake \
#     -DNAB_TARGET_PREFIXES=<GoogleTest built and installed with this file>
#
# CTest runs every test executable under wine64 (WINEDEBUG=-all: none of wine's diagnostics in
# the test output). The test executables are static too, so wine needs no MinGW DLL.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

# The target's libraries: the cross compiler's tree, and prefixes of libraries built for the
# target (GoogleTest, by tools/build-platform.sh; CMake 3.18's FindGTest searches only there).
set(NAB_TARGET_PREFIXES "" CACHE STRING "Prefixes of libraries built for the target")
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32 ${NAB_TARGET_PREFIXES})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Packages also from the host's paths: the installed library's own CMake package, which the C
# consumer test finds through CMAKE_PREFIX_PATH.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

set(CMAKE_EXE_LINKER_FLAGS_INIT -static)

# Debian's wine64 package installs the loader here, without a wine64 on PATH.
find_program(NAB_WINE64 NAMES wine64 PATHS /usr/lib/wine)
if(NAB_WINE64)
  set(CMAKE_CROSSCOMPILING_EMULATOR env WINEDEBUG=-all ${NAB_WINE64})
endif()
