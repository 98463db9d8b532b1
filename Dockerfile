# Build a static storybot binary, then ship it alone in a small non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Empty: the binary falls back to the Go build info ("dev" without it). make image stamps it.
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/storybot ./cmd/storybot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/storybot /storybot
USER nonroot:nonroot
EXPOSE 3000
ENTRYPOINT ["/storybot"]
CMD ["serve"]
