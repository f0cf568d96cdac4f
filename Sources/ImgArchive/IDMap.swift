/// User and group id ranges between an image's ids (inside a user namespace) and the host's, as
/// `/proc/PID/uid_map` lists them. Used when a layer is applied or diffed from outside the namespace: the
/// files then carry host ids (the subuid range) while the tar carries the image's.
package struct IDMap: Sendable, Hashable {
    package struct Range: Sendable, Hashable {
        package var containerID: UInt32
        package var hostID: UInt32
        package var count: UInt32
        package init(containerID: UInt32, hostID: UInt32, count: UInt32) {
            self.containerID = containerID
            self.hostID = hostID
            self.count = count
        }
    }

    package var uids: [Range]
    package var gids: [Range]

    package init(uids: [Range], gids: [Range]) {
        self.uids = uids
        self.gids = gids
    }

    /// The usual rootless map: image id 0 is the caller, 1… are the subordinate range.
    package static func rootless(uid: UInt32, gid: UInt32, subUIDStart: UInt32, subGIDStart: UInt32, count: UInt32) -> IDMap {
        IDMap(uids: [Range(containerID: 0, hostID: uid, count: 1), Range(containerID: 1, hostID: subUIDStart, count: count)],
              gids: [Range(containerID: 0, hostID: gid, count: 1), Range(containerID: 1, hostID: subGIDStart, count: count)])
    }

    package func hostUID(_ id: UInt32) -> UInt32? { Self.map(id, uids, from: \.containerID, to: \.hostID) }
    package func hostGID(_ id: UInt32) -> UInt32? { Self.map(id, gids, from: \.containerID, to: \.hostID) }
    package func containerUID(_ id: UInt32) -> UInt32? { Self.map(id, uids, from: \.hostID, to: \.containerID) }
    package func containerGID(_ id: UInt32) -> UInt32? { Self.map(id, gids, from: \.hostID, to: \.containerID) }

    private static func map(_ id: UInt32, _ ranges: [Range], from: KeyPath<Range, UInt32>, to: KeyPath<Range, UInt32>) -> UInt32? {
        for r in ranges where id >= r[keyPath: from] && UInt64(id) < UInt64(r[keyPath: from]) + UInt64(r.count) {
            return r[keyPath: to] + (id - r[keyPath: from])
        }
        return nil
    }
}
