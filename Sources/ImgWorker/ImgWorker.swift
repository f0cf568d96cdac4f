// ImgWorker: The running of a build's ops: each looked up in the cache by its key (then in the --cache-from
// sources), else run on snapshots (exec through the runtime, file ops, merges, config changes) and recorded.
