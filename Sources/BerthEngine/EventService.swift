import BerthSystem
import Synchronization

/// One engine event: an action on an object (`image` `load`, `container` `start`, …).
public struct EngineEvent: Sendable, Equatable {
    public var type: String
    public var action: String
    public var actorID: String
    public var attributes: [String: String]
    /// Nanoseconds since the epoch.
    public var timeNano: Int64

    public init(type: String, action: String, actorID: String, attributes: [String: String], timeNano: Int64) {
        self.type = type
        self.action = action
        self.actorID = actorID
        self.attributes = attributes
        self.timeNano = timeNano
    }
}

/// The event bus: publishers append, subscribers get a replay of recent events and then live
/// ones. Memory is bounded: the last `capacity` events are kept, and each subscriber's queue
/// holds at most `subscriberBuffer` undelivered events (a subscriber that cannot keep up
/// loses the oldest, as Docker's does).
public final class EventService: Sendable {
    public let capacity: Int
    public let subscriberBuffer: Int

    struct State {
        var ring: [EngineEvent] = []
        var next = 0
        var subscribers: [Int: AsyncStream<EngineEvent>.Continuation] = [:]
        var nextID = 0
    }
    let state = Mutex(State())

    public init(capacity: Int = 1024, subscriberBuffer: Int = 4096) {
        self.capacity = capacity
        self.subscriberBuffer = subscriberBuffer
    }

    /// Records and broadcasts an event.
    public func publish(type: String, action: String, actorID: String, attributes: [String: String] = [:]) {
        let now = WallClock.now()
        let e = EngineEvent(type: type, action: action, actorID: actorID, attributes: attributes,
                            timeNano: now.seconds * 1_000_000_000 + Int64(now.nanoseconds))
        let subs = state.withLock { s -> [AsyncStream<EngineEvent>.Continuation] in
            if s.ring.count < capacity { s.ring.append(e) } else { s.ring[s.next] = e }
            s.next = (s.next + 1) % capacity
            return Array(s.subscribers.values)
        }
        for c in subs { c.yield(e) }
    }

    /// Past events (oldest first) and a stream of the events published from now on.
    /// The stream ends when the consumer stops iterating (the subscription is removed).
    public func subscribe() -> (past: [EngineEvent], live: AsyncStream<EngineEvent>) {
        let (stream, continuation) = AsyncStream<EngineEvent>.makeStream(bufferingPolicy: .bufferingNewest(subscriberBuffer))
        let past = state.withLock { s -> [EngineEvent] in
            let id = s.nextID
            s.nextID += 1
            s.subscribers[id] = continuation
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
            }
            if s.ring.count < capacity { return s.ring }
            return Array(s.ring[s.next...] + s.ring[..<s.next])
        }
        return (past, stream)
    }

    /// Number of live subscribers (`NEventsListener` in info).
    public var listenerCount: Int { state.withLock { $0.subscribers.count } }
}
