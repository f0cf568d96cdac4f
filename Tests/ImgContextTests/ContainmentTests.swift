import Glibc
import ImgContext
import Testing
import ImgTestSupport

/// Writes must stay inside the rootfs whatever the rootfs or the destination says.
struct ContainmentTests {
    /// A rootfs next to an "outside" directory that nothing may touch.
    struct Sandbox {
        let f = Fixture()
        let outside: Tree

        init() {
            outside = Tree(root: f.scratch.directory("outside"))
            outside.file("victim.txt", "untouched")
            f.context.file("a.txt", "payload").file("dir/x.txt", "payload")
        }

        func assertOutsideUntouched() {
            #expect(outside.listing() == ["victim.txt"])
            #expect(outside.text("victim.txt") == "untouched")
            // Nothing new next to the rootfs either.
            #expect(Tree(root: f.scratch.path).listing().filter { !$0.hasPrefix("context") && !$0.hasPrefix("rootfs") && !$0.hasPrefix("outside") && !$0.hasPrefix("tree-") } == [])
        }
    }

    @Test(arguments: [
        // (symlinks in the rootfs, destination, where the file must land inside the rootfs)
        ([("etc", "/")], "/etc/a.txt", "a.txt"),
        ([("etc", "/")], "/etc/", "a.txt"),
        ([("up", "../../../../..")], "/up/a.txt", "a.txt"),
        ([("up", "../../../../..")], "/up/", "a.txt"),
        ([], "/../../../../a.txt", "a.txt"),
        ([], "../../x/../../y/", "y/a.txt"),
        ([("abs", "ABSOLUTE_OUTSIDE")], "/abs/", "OUTSIDE_IN_ROOTFS/a.txt"),
        ([("abs", "ABSOLUTE_OUTSIDE")], "/abs/sub/a.txt", "OUTSIDE_IN_ROOTFS/sub/a.txt"),
        // The final component is a symlink out: replaced by the file, never written through.
        ([("victim", "ABSOLUTE_VICTIM")], "/victim", "victim"),
    ] as [([(String, String)], String, String)])
    func fileCopiesStayInside(_ links: [(String, String)], _ destination: String, _ landed: String) throws {
        let s = Sandbox()
        let relativeOutside = String(s.outside.root.dropFirst())
        for (name, target) in links {
            let resolved = target.replacingOccurrences(of: "ABSOLUTE_OUTSIDE", with: s.outside.root)
                .replacingOccurrences(of: "ABSOLUTE_VICTIM", with: s.outside.p("victim.txt"))
            s.f.rootfs.symlink(name, to: resolved)
        }
        try s.f.copy(["a.txt"], destination)
        let expected = landed.replacingOccurrences(of: "OUTSIDE_IN_ROOTFS", with: relativeOutside)
        #expect(s.f.rootfs.text(expected) == "payload")
        s.assertOutsideUntouched()
    }

    @Test func directoryMergesThroughHostileSymlinksStayInside() throws {
        let s = Sandbox()
        // A directory in the rootfs replaced by a link out; the copy merges into "dir/".
        s.f.rootfs.symlink("target", to: s.outside.root)
        s.f.rootfs.dir("merge").symlink("merge/dir", to: "../../../..")
        try s.f.copy(["dir"], "/target/")
        try s.f.copy(["."], "/merge/")
        #expect(s.f.rootfs.text(String(s.outside.root.dropFirst()) + "/x.txt") == "payload")
        // merge/dir climbs to the rootfs's own root, so dir/x.txt lands there.
        #expect(s.f.rootfs.text("x.txt") == "payload")
        s.assertOutsideUntouched()
    }

    @Test func contextSymlinksPointingOutAreCopiedAsLinks() throws {
        let s = Sandbox()
        s.f.context.symlink("dir/escape", to: s.outside.p("victim.txt")).symlink("dir/up", to: "../../outside")
        try s.f.copy(["dir"], "/d/")
        #expect(s.f.rootfs.link("d/escape") == s.outside.p("victim.txt"))
        #expect(s.f.rootfs.link("d/up") == "../../outside")
        // Named as a source, a link is followed inside the context only: this one leads nowhere.
        #expect(contextError { try s.f.copy(["dir/escape"], "/e") }?.code == .notFound)
        s.assertOutsideUntouched()
    }

    @Test func archiveExtractionStaysInside() throws {
        let s = Sandbox()
        s.f.rootfs.symlink("lib", to: s.outside.root)
        let archive = try Archives.make(in: s.f.scratch, files: ["ok.txt": "fine"], compression: .gzip)
        try Archives.copyInto(s.f.context, archive, as: "bundle.tar.gz")
        try s.f.copy(["bundle.tar.gz"], "/lib/", options: CopyOptions(isAdd: true))
        #expect(s.f.rootfs.text(String(s.outside.root.dropFirst()) + "/ok.txt") == "fine")
        s.assertOutsideUntouched()
    }
}
