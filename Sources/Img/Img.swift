// Img: The front door: `ImgEngine` opens a state directory once, owns its paths, stores, snapshotter choice,
// executor and registry access, and offers build, pull, push, save, load, unpack and prune as calls taking typed
// requests, reporting progress through a protocol.
