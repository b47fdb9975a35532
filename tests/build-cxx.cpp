// build-cxx.cpp — compiled as C++ with -Werror: the public header must be usable from C++.
#include "toptheta.h"
int main() { tt_attn_params p; (void)p; return TT_VERSION_MAJOR >= 0 ? 0 : 1; }
