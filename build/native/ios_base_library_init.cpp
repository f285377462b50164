// Defines std::ios_base_library_init(), which GCC 13's libstdc++ (GLIBCXX_3.4.32) exports and
// TorchSharp's libLibTorchSharp.so calls to initialise iostreams. Older libstdc++ (Debian 12,
// Ubuntu 22.04) lack it; this shim supplies the same behaviour: construct one ios_base::Init.
// Built and loaded only where the system libstdc++ lacks the symbol (see build/TorchSharpFix.targets).
#include <ios>

namespace std {
__attribute__((visibility("default"))) void ios_base_library_init() {
    static ios_base::Init init;
}
}
