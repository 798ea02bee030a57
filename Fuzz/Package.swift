// swift-tools-version: 6.1
// libFuzzer targets for projector's parsers, built by scripts/fuzz with -sanitize=fuzzer.
import PackageDescription

let package = Package(
    name: "projector-fuzz",
    dependencies: [.package(name: "projector", path: "..")],
    targets: [
        .executableTarget(
            name: "fuzz-scanner",
            dependencies: [.product(name: "ProjectorCore", package: "projector")]
        ),
        .executableTarget(
            name: "fuzz-jobfile",
            dependencies: [.product(name: "ProjectorCore", package: "projector")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
