/* build-pedantic.c — compiled with -std=c99 -pedantic -Werror: the public header must be clean C99. */
#include "toptheta.h"
int main(void) { return tt_status_str(TT_SUCCESS) ? 0 : 1; }
