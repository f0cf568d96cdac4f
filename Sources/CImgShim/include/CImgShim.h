#ifndef CIMGSHIM_H
#define CIMGSHIM_H
/* Start-up work that must happen before the Swift runtime starts threads (user-namespace entry).
   The rootless engineer fills this in; see Sources/CImgShim/shim.c. */
int img_shim_placeholder(void);
#endif
