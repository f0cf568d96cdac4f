import Foundation
import ImgCommands
import ImgOCI
import ImgRegistry
import Synchronization
import Testing

/// The plain transfer view on its own: a big layer gets a line every `plainStep` bytes, not one per update,
/// and a blob that is no layer (a config) gets none.
@Suite struct TransferDisplayTests {
    @Test func aBigLayerInAPipeGetsALineEvery64MiB() {
        let lines = Mutex([String]())
        let display = TransferDisplay(tty: false) { text in lines.withLock { $0.append(text) } }
        let layer = Descriptor(mediaType: .ociLayerGzip, digest: .sha256(of: Array("layer".utf8)), size: 200 << 20)
        let config = Descriptor(mediaType: .ociConfig, digest: .sha256(of: Array("config".utf8)), size: 1000)
        display.transferStarted(layer, .download, done: 0)
        display.transferStarted(config, .download, done: 0)
        for done in stride(from: Int64(1 << 20), through: 200 << 20, by: 1 << 20) {
            display.transferProgress(layer, .download, done: done)
        }
        display.transferFinished(config, .download)
        display.transferFinished(layer, .download)
        display.stop()
        let id = String(layer.digest.hex.prefix(12))
        let shown = lines.withLock { $0 }.map { $0.replacing(/\ ?\(?[0-9.]+[kMG]?B\/s\)?/, with: "") }
        // (The speed, when there is one to show, is left out here: these updates take no time.)
        #expect(shown == ["\(id): Downloading 210MB\n", "\(id): 67.1MB/210MB\n", "\(id): 134MB/210MB\n",
                          "\(id): 201MB/210MB\n", "\(id): Download complete\n"], "\(shown)")
    }
}
