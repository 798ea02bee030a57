// swift-tools-version: 6.1
// libFuzzer targets for projector's parsers, built by scripts/fuzz with -sanitize=fuzzer.
import PackageDescription

let package = Package(
    name: "projector-fuzz",
    dependencies: [.package(name: "projector", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "fuzz-scanner",
            dependencies: ["FuzzDriver", .product(name: "ProjectorCore", package: "projector")]
        ),
        .executableTarget(
            name: "fuzz-jobfile",
            dependencies: ["FuzzDriver", .product(name: "ProjectorCore", package: "projector")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
