// ImgContent: What a state directory stores: the content-addressed blob store, the image store and cache records
// (SQLite), leases, garbage collection and OCI layouts.
