import Foundation
import ProjectorCore
import Testing
import Webhooks

@Suite struct NotificationBodyTests {
    @Test func theBodyIsJSONWithSortedKeysSoTheSameNotificationIsAlwaysTheSameBytes() throws {
        // Given a notification whose job and keys need escaping
        let notification = ProjectorCore.Notification(
            job: "runs/view", runID: 7, fromPosition: 10, toPosition: 20, events: 3, keys: ["a\"b", "é\n"],
            keysTotal: 2, failures: 1, timestamp: 1_764_237_659.25)
        // Then its body is the encoder's canonical form, whatever the process's hash seed
        let expected =
            #"{"data":{"events":3,"failures":1,"fromPosition":10,"job":"runs/view","keys":["a\"b","é\n"],"#
            + #""keysTotal":2,"runId":7,"toPosition":20,"truncated":false},"#
            + #""timestamp":"2025-11-27T10:00:59.250Z","type":"projection.refreshed"}"#
        #expect(String(decoding: notification.body, as: UTF8.self) == expected)
        #expect(notification.body == notification.body)
    }

    @Test func aTruncatedBodyListsTheFirstKeysAndTheirTotal() throws {
        let keys = (0..<1500).map(String.init)
        let notification = ProjectorCore.Notification(
            job: "j", runID: 1, fromPosition: 0, toPosition: 9, events: 1500, keys: keys, keysTotal: 1500,
            failures: 0, timestamp: 0, type: "projection.rebuilt")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(notification.body)) as? [String: Any])
        #expect(json["type"] as? String == "projection.rebuilt")
        #expect(json["timestamp"] as? String == "1970-01-01T00:00:00.000Z")
        let data = try #require(json["data"] as? [String: Any])
        #expect((data["keys"] as? [String])?.count == ProjectorCore.Notification.keysCap)
        #expect(data["keysTotal"] as? Int == 1500)
        #expect(data["truncated"] as? Bool == true)
    }

    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"), (0.9996, "1970-01-01T00:00:01.000Z"),
        (59.9994, "1970-01-01T00:00:59.999Z"), (951_782_400.5, "2000-02-29T00:00:00.500Z"),
        (4_102_444_799.999, "2099-12-31T23:59:59.999Z"),
    ])
    func timestampsAreRFC3339WithMilliseconds(seconds: Double, expected: String) {
        #expect(RFC3339.format(seconds) == expected)
    }

    @Test(arguments: [0.0, 0.9996, 59.9994, 951_782_400.5, 1_764_237_659.25, 4_102_444_799.999])
    func wholeSecondTimestampsMatchFoundationsISO8601(seconds: Double) {
        #expect(RFC3339.format(seconds, milliseconds: false) == Date(timeIntervalSince1970: seconds).ISO8601Format())
    }
}
