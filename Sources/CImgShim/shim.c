#include "CImgShim.h"
int img_shim_placeholder(void) { return 0; }
