# llmobsd and llmobs in a container image (deploy/kubernetes/ runs it as a
# DaemonSet). Two stages: the build has the compilers, headers, clang for
# the BPF objects and node for the pinned price and tokenizer data; the
# runtime stage has the two binaries, the shim, the shared libraries they
# link (found by ldd in the build stage) and the default config. The image
# needs the kernel's BTF (/sys/kernel/btf/vmlinux, mounted by the
# DaemonSet): there is no BTF-less fallback yet (README "Run on Kubernetes").
# Build: docker build -t llm-observer/llmobsd:0.1.0 .

FROM debian:bookworm AS build
WORKDIR /src
COPY tools/install-deps.sh tools/install-deps.sh
RUN bash tools/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# the build's own BPF headers: the build host's kernel is not the nodes'
RUN make -j"$(nproc)" all && \
    mkdir -p /rootfs/usr/local/sbin /rootfs/usr/local/bin /rootfs/usr/local/lib && \
    cp .output/llmobsd /rootfs/usr/local/sbin/ && \
    cp .output/llmobs /rootfs/usr/local/bin/ && \
    cp .output/libllmobs.so /rootfs/usr/local/lib/ && \
    ldd .output/llmobsd .output/llmobs | awk '/=> \// { print $3 }' | sort -u | \
      xargs -I{} cp --parents -L {} /rootfs/

FROM debian:bookworm-slim
COPY --from=build /rootfs/ /
COPY deploy/systemd/llmobsd.yaml /etc/llm-observer/llmobsd.yaml
# the user the worker that parses traffic runs as (issue 12)
RUN useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin llmobs
EXPOSE 9464
ENTRYPOINT ["/usr/local/sbin/llmobsd"]
CMD ["--config", "/etc/llm-observer/llmobsd.yaml"]
