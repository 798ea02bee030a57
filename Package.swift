// swift-tools-version: 6.1
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "projector",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "projector", targets: ["projector"]),
        .library(name: "JournalWriter", targets: ["Journal", "EventsTableWriter"]),
        .library(name: "ProjectorCore", targets: ["ProjectorCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // libpq rather than postgres-nio: the runner is synchronous (a transaction is a closure that
        // cannot await), libpq's pipeline mode sends a batch's statements in one round trip where
        // postgres-nio sends one statement per round trip, and postgres-nio pulls in SwiftNIO, which
        // takes minutes to build here.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(name: "ProjectorCore", swiftSettings: upcoming),
        .target(
            name: "Webhooks",
            dependencies: ["CCurl", "COpenSSL", "ProjectorCore"],
            swiftSettings: upcoming
        ),
        .target(name: "Journal", dependencies: ["ProjectorCore"], swiftSettings: upcoming),
        .target(name: "SQLiteStore", dependencies: ["CSQLite", "ProjectorCore"], swiftSettings: upcoming),
        .target(name: "PostgresClient", dependencies: ["CLibPQ", "ProjectorCore"], swiftSettings: upcoming),
        .target(
            name: "PostgresStore", dependencies: ["PostgresClient", "ProjectorCore"], swiftSettings: upcoming),
        // An API's writer to the events table: the client and one INSERT, not the runner's store.
        .target(
            name: "EventsTableWriter", dependencies: ["PostgresClient", "ProjectorCore"], swiftSettings: upcoming),
        .target(
            name: "Runner",
            dependencies: [
                "ProjectorCore", "Journal", "SQLiteStore", "PostgresStore", "PostgresClient", "EventsTableWriter",
                "Webhooks",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "QaHubDemo",
            dependencies: ["ProjectorCore", "Journal", "SQLiteStore", "PostgresClient", "Webhooks"],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "projector",
            dependencies: [
                "ProjectorCore", "Journal", "SQLiteStore", "Runner", "QaHubDemo", "Webhooks", "PostgresClient",
                "EventsTableWriter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "TestSupport",
            dependencies: ["SQLiteStore", "PostgresClient", "Journal", "ProjectorCore"],
            path: "Tests/TestSupport",
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "projector-bench",
            dependencies: [
                "ProjectorCore", "Journal", "QaHubDemo", "Runner", "SQLiteStore", "PostgresClient", "PostgresStore",
                "EventsTableWriter", "Webhooks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "ProjectorCoreTests", dependencies: ["ProjectorCore"], exclude: ["reference_json.py"],
            swiftSettings: upcoming),
        .testTarget(
            name: "JournalTests", dependencies: ["Journal", "ProjectorCore", "TestSupport"], swiftSettings: upcoming),
        .testTarget(
            name: "SQLiteStoreTests", dependencies: ["SQLiteStore", "ProjectorCore", "QaHubDemo", "TestSupport"],
            swiftSettings: upcoming),
        .testTarget(
            name: "PostgresClientTests", dependencies: ["PostgresClient", "ProjectorCore", "TestSupport"],
            swiftSettings: upcoming),
        .testTarget(
            name: "WebhooksTests", dependencies: ["Webhooks", "ProjectorCore", "QaHubDemo", "TestSupport"],
            swiftSettings: upcoming),
        .testTarget(
            name: "RunnerTests",
            dependencies: [
                "Runner", "SQLiteStore", "PostgresClient", "PostgresStore", "EventsTableWriter", "Journal",
                "ProjectorCore", "QaHubDemo", "TestSupport",
                "Webhooks",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "projector", "SQLiteStore", "PostgresClient", "PostgresStore", "Journal", "ProjectorCore", "QaHubDemo",
                "TestSupport", "EventsTableWriter",
                "Webhooks",
            ],
            swiftSettings: upcoming
        ),
    ],
    swiftLanguageModes: [.v6]
)
