import PostgresClient
import ProjectorCore
import Testing

@Suite struct PGErrorTests {
    @Test(arguments: [
        ("23505", PGError.Kind.statement, StoreError.Kind.statement),
        ("23503", .statement, .statement),
        ("22P02", .statement, .statement),
        ("22012", .statement, .statement),
        ("42601", .statement, .statement),
        ("42P01", .statement, .statement),
        ("P0001", .statement, .statement),
        ("40001", .serializationFailure, .busy),
        ("40P01", .deadlock, .busy),
        ("57014", .statementTimeout, .statement),
        ("55P03", .lockNotAvailable, .busy),
        ("53100", .diskFull, .diskFull),
        ("42501", .cannotWrite, .cannotWrite),
        ("25006", .cannotWrite, .cannotWrite),
        ("57P01", .connectionLost, .unavailable),
        ("08006", .connectionLost, .unavailable),
        ("28P01", .authenticationFailed, .other),
        ("53300", .other, .other),
        ("XX000", .other, .other),
    ])
    func sqlStatesClassify(sqlState: String, kind: PGError.Kind, storeKind: StoreError.Kind) {
        let error = PGError(kind: PGError.kind(sqlState: sqlState), sqlState: sqlState, message: "m")
        #expect(error.kind == kind)
        #expect(error.storeError.kind == storeKind)
        #expect(error.storeError.code == "SQLSTATE \(sqlState)")
        #expect(error.isKeyLocal == (storeKind == .statement))
    }

    @Test(arguments: [
        "FATAL:  the database system is not yet accepting connections DETAIL:  Consistent recovery state has not been yet reached.",
        "FATAL:  the database system is in recovery mode",
        "FATAL:  the database system is starting up",
        "connection to server at \"127.0.0.1\", port 5 failed: Connection refused",
    ])
    func aServerThatCannotTakeConnectionsYetIsUnavailableNotAnError(message: String) {
        // A runner's watch reconnects (exit 75 for one run) instead of stopping with exit 1.
        #expect(PGConnection.connectFailureKind(message) == .connectionRefused)
        #expect(
            PGError(kind: PGConnection.connectFailureKind(message), message: message).storeError.kind == .unavailable)
    }

    @Test func aPipelineAbortIsNotTheStatementsOwnFailure() {
        let error = PGError(kind: .pipelineAborted, message: "not run")
        #expect(!error.isKeyLocal)
        #expect(error.storeError.kind == .other)
    }
}
