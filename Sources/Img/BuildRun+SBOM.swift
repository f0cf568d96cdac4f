import Foundation
import ImgDockerfile
import ImgOCI
import ImgSBOM
import ImgSystem
import ImgWorker

/// `--sbom`: an SPDX 2.3 document of the packages in each platform's image (and in every stage that declares
/// `ARG BUILDKIT_SBOM_SCAN_STAGE=true`, as BuildKit scans them), attached as in-toto statements beside the
/// provenance (docs/sbom.md).
struct SBOMInputs: Sendable {
    var toolVersion: String

    /// The build arg that makes BuildKit scan a stage besides the final one.
    static let scanStageArg = "BUILDKIT_SBOM_SCAN_STAGE"

    /// The stages of `plan` other than the target that ask to be scanned.
    static func scannedStages(_ plan: BuildPlan, target: Int) -> [Stage] {
        plan.stages.filter { stage in
            stage.index != target && stage.args.contains {
                $0.name == scanStageArg && ["true", "1"].contains(($0.value ?? "").lowercased())
            }
        }
    }

    /// One statement about `manifest` for the filesystem `state` leaves (the image, or a scanned stage).
    func statement(_ state: BuildState, worker: BuildWorker, stage: String?, manifest: Descriptor,
                   subjects: [InTotoStatement<SPDXDocument>.Subject]) async throws -> AttestationStatement {
        let packages = try await worker.withFilesystem(of: state) { root in
            try await onOwnThread { try SBOMScanner.scan(root: root) }
        }
        // The image's own time, not the clock's: the same build gives the same document.
        let created = state.config.created.flatMap { ISO8601DateFormatter().date(from: $0) } ?? Date(timeIntervalSince1970: 0)
        let name = subjects.first?.name ?? "_"
        let document = SPDXDocument.make(
            packages: packages, name: stage.map { "\(name) (stage \($0))" } ?? name,
            namespace: "https://spdx.org/spdxdocs/img-\(manifest.digest.hex)" + (stage.map { "-stage-\($0)" } ?? ""),
            created: created, toolVersion: toolVersion)
        let statement = InTotoStatement(subject: subjects, predicateType: Attestation.spdxDocument, predicate: document)
        return AttestationStatement(predicateType: Attestation.spdxDocument, bytes: try statement.encoded())
    }
}
