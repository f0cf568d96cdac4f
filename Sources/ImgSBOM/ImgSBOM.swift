// ImgSBOM: What an image's root filesystem holds as packages (dpkg, apk, Python dist-info, rpm), read without
// ever leaving the root, and the SPDX 2.3 JSON document describing them.
