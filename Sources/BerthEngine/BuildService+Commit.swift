import BerthCore
import BerthImage
import BerthOCI
import BerthSystem

/// `docker commit`'s options.
public struct CommitOptions: Sendable {
    public var tag: Reference?
    public var comment = ""
    public var author = ""
    /// Pause a running container while its changes are read (default true).
    public var pause = true
    /// Dockerfile instructions applied to the config (`--change`).
    public var changes: [String] = []
    /// A container config from the request body, over the container's own.
    public var config: ContainerConfig?
    public init() {}
}

extension BuildService {
    /// `POST /commit`: the container's filesystem changes become a layer over its image, with
    /// the container's config (its command, environment, ports…) plus the changes given.
    public func commit(_ ref: String, options: CommitOptions) async throws -> Digest {
        var config = ImageConfig.Config()
        for c in options.changes { try ImageChanges.apply(c, to: &config) }   // validate first
        let c = try containers.get(ref)
        guard let parent = store.record(c.image) else { throw BerthError.notFound("No such image: \(c.image)") }
        var imageConfig = try store.config(c.image)
        var cfg = imageConfig.config ?? ImageConfig.Config()
        Self.overlay(c.config, onto: &cfg)
        if let body = options.config { Self.overlay(body, onto: &cfg) }
        for change in options.changes { try ImageChanges.apply(change, to: &cfg) }
        imageConfig.config = cfg
        if !options.author.isEmpty { imageConfig.author = options.author }
        let now = WallClock.now().rfc3339Nano
        imageConfig.created = now
        var history = ImageConfig.History(created: now, createdBy: ([c.path] + c.args).joined(separator: " "))
        if !options.comment.isEmpty { history.comment = options.comment }
        if !options.author.isEmpty { history.author = options.author }

        let paused = options.pause && c.state.status == .running
        if paused { try await containers.pause(c.id) }
        let request = ImageCommitter.Commit(config: imageConfig, parent: parent, history: history)
        let upper = containers.directory(c.id) + "/diff"
        let store = self.store
        let record: ImageRecord
        do {
            record = try await BlockingWork.run { try ImageCommitter(store: store).commit(request, upperDirectory: upper) }
        } catch {
            if paused { try? await containers.unpause(c.id) }
            throw error
        }
        // Unpaused before answering, so the caller sees it running again.
        if paused { try? await containers.unpause(c.id) }
        if let tag = options.tag { try store.tag(record.id, as: tag) }
        events.publish(type: "container", action: "commit", actorID: c.id,
                       attributes: ["comment": options.comment, "imageID": record.id.description, "imageRef": options.tag?.withDefaultTag.familiar ?? ""])
        return record.id
    }

    /// The fields of a container config an image keeps, where set.
    static func overlay(_ c: ContainerConfig, onto cfg: inout ImageConfig.Config) {
        if let v = c.Cmd { cfg.Cmd = v }
        if let v = c.Entrypoint { cfg.Entrypoint = v == [""] ? nil : v }
        if let v = c.Env { cfg.Env = v }
        if let v = c.WorkingDir, !v.isEmpty { cfg.WorkingDir = v }
        if let v = c.User { cfg.User = v }
        if let v = c.Labels { cfg.Labels = v.isEmpty ? cfg.Labels : v }
        if let v = c.ExposedPorts { cfg.ExposedPorts = v }
        if let v = c.Volumes { cfg.Volumes = v }
        if let v = c.StopSignal, !v.isEmpty { cfg.StopSignal = v }
        if let v = c.OnBuild { cfg.OnBuild = v }
        if let v = c.Shell { cfg.Shell = v }
        if let h = c.Healthcheck, let json = try? BerthJSONEncoder().encode(h), let value = try? JSON.parse(json) {
            cfg.Healthcheck = value
        }
    }
}
