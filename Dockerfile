# img's own image: the release img with what it needs to build as an ordinary user inside an unprivileged
# container (see README, "In a container or a Kubernetes pod").
#   swift build -c release --static-swift-stdlib --product img && img build -t img .
# The binary is COPYed from IMG_BINARY; .dockerignore lets only it and this file into the context.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# runc runs RUN steps, uidmap maps the subordinate ids, fuse-overlayfs is the snapshotter where kernel
# overlayfs is refused; libarchive, libdeflate and SQLite are img's shared libraries; ca-certificates for
# registries over TLS. libcap2-bin only for setcap below.
# newuidmap/newgidmap get file capabilities instead of the setuid bit: inside a container a setuid-root
# newuidmap runs as euid 0, which does not own the new user namespace, so the kernel would want
# CAP_SYS_ADMIN; with cap_setuid/cap_setgid it writes the maps as the calling user.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      runc uidmap fuse-overlayfs ca-certificates libarchive13 libdeflate0 libsqlite3-0 libcap2-bin \
 && chmod u-s /usr/bin/newuidmap /usr/bin/newgidmap \
 && setcap cap_setuid+ep /usr/bin/newuidmap \
 && setcap cap_setgid+ep /usr/bin/newgidmap \
 && DEBIAN_FRONTEND=noninteractive apt-get purge -y libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log

# The build user, with 65536 subordinate ids for the image's other owners. Its state directory exists
# (owned by it) so that the volume below starts out writable.
RUN groupadd -g 1000 user \
 && useradd -u 1000 -g 1000 -m -d /home/user -s /bin/sh user \
 && echo user:100000:65536 > /etc/subuid \
 && echo user:100000:65536 > /etc/subgid \
 && mkdir -p /home/user/.local/share/img \
 && chown -R 1000:1000 /home/user

ARG IMG_BINARY=.build/release/img
COPY ${IMG_BINARY} /usr/local/bin/img

# The container's root is itself an overlayfs, which cannot be an overlayfs upper directory: a volume
# keeps the state on the host's filesystem, where img's overlayfs snapshotter works (without one img
# falls back to its native snapshotter, which copies).
VOLUME /home/user/.local/share/img
USER 1000
WORKDIR /home/user
ENTRYPOINT ["img"]
