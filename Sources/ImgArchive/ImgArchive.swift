// ImgArchive: Tar archives and layers: reading and writing tar streams, (de)compression, applying a layer onto a
// directory and diffing one out of it, safely against hostile members.
