# Release builds stamp the version into the binary and the image. Plain `go build` and
# `go install …@vX.Y.Z` builds need no stamping: `storybot version` then reads the module
# version or the VCS revision from the Go build info.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64

.PHONY: build test release image clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o storybot ./cmd/storybot

test:
	go test ./...

# dist/storybot-<version>-<os>-<arch>, with SHA-256 sums.
release:
	rm -rf dist && mkdir -p dist
	for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "$(LDFLAGS)" \
			-o dist/storybot-$(VERSION)-$$os-$$arch ./cmd/storybot || exit 1; \
	done
	cd dist && sha256sum storybot-* > SHA256SUMS

image:
	docker build --build-arg VERSION=$(VERSION) -t storybot:$(VERSION) .

clean:
	rm -rf dist storybot
