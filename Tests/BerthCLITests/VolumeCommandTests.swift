import ArgumentParser
import BerthAPI
@testable import BerthCLI
import BerthCore
import Testing

/// `volume` commands: flags → request bodies and filters, and the output of `volume ls`,
/// `volume prune` and the volume parts of `system df`, compared with what docker 28.2 prints.
struct VolumeCommandTests {
    static func volume(_ name: String, labels: [String: String] = [:], options: [String: String]? = nil,
                       size: Int64? = nil, refs: Int64 = 0) -> Volume {
        Volume(Name: name, Driver: "local", Mountpoint: "/var/lib/berth/volumes/\(name)/_data", CreatedAt: "2024-01-02T03:04:05Z",
               Labels: labels, Options: options, UsageData: size.map { .init(Size: $0, RefCount: refs) })
    }

    static func errorText(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: create

    @Test func createFlagsMakeTheRequest() throws {
        let c = try VolumeCreateCommand.parse(["--label", "team=db", "--label", "tier", "-o", "type=tmpfs", "--opt", "o=size=1m,uid=1000",
                                                "-o", "device=tmpfs", "-d", "local", "data"])
        let r = try c.request()
        #expect(r.Name == "data")
        #expect(r.Driver == "local")
        #expect(r.Labels == ["team": "db", "tier": ""])
        #expect(r.DriverOpts == ["type": "tmpfs", "o": "size=1m,uid=1000", "device": "tmpfs"])
    }

    @Test func createDefaultsAsDockerSendsThem() throws {
        let r = try VolumeCreateCommand.parse([]).request()
        // docker sends an empty name (the daemon generates one), the local driver and empty maps.
        #expect(r.Name == "")
        #expect(r.Driver == "local")
        #expect(r.Labels == [:])
        #expect(r.DriverOpts == [:])
        let body = try BerthJSONEncoder(options: [.sortedKeys]).encodeToString(r)
        #expect(body == #"{"Driver":"local","DriverOpts":{},"Labels":{},"Name":""}"#)
    }

    @Test func createNameFlagAndConflicts() throws {
        #expect(try VolumeCreateCommand.parse(["--name", "x"]).request().Name == "x")
        #expect(try VolumeCreateCommand.parse(["--driver", "other", "y"]).request().Driver == "other")
        let conflict = Self.errorText { try VolumeCreateCommand.parse(["--name", "x", "y"]).request() }
        #expect(conflict == "conflicting options: cannot specify a volume-name through both --name and as a positional arg")
        #expect(throws: (any Error).self) { try VolumeCreateCommand.parse(["a", "b"]) }
    }

    @Test func createRejectsBadLabels() throws {
        let empty = Self.errorText { try VolumeCreateCommand.parse(["--label", "=1", "v"]).request() }
        #expect(empty == "berth: invalid argument \"=1\" for \"--label\" flag: invalid label '=1': empty name.\nSee 'berth volume create --help'.")
        let blank = Self.errorText { try VolumeCreateCommand.parse(["--label", "a b=1", "v"]).request() }
        #expect(blank?.contains("label 'a b' contains whitespaces") == true, "\(blank ?? "")")
        // Surrounding blanks are trimmed before the check, as docker does.
        #expect(try VolumeCreateCommand.parse(["--label", " x=1", "v"]).request().Labels == [" x": "1"])
    }

    // MARK: ls

    @Test func listFlags() throws {
        let c = try VolumeListCommand.parse(["-q", "-f", "name=da", "--filter", "label=team=db", "--filter", "dangling=true", "--format", "json"])
        #expect(c.quiet)
        #expect(c.format == "json")
        #expect(try parseFilters(c.filter).values == ["name": ["da"], "label": ["team=db"], "dangling": ["true"]])
        #expect(throws: (any Error).self) { try parseFilters(VolumeListCommand.parse(["--filter", "bogus"]).filter) }
    }

    @Test func listDefaultTableSortedNaturally() throws {
        let vols = [Self.volume("vol10"), Self.volume("vol9"), Self.volume("ee340133b858e007d04ce945f4e3ddb12b68518ebbd1cd3e5396ab599901824c"),
                    Self.volume("data")]
        #expect(try VolumeFormat.renderList(vols, format: nil, quiet: false) == """
            DRIVER    VOLUME NAME
            local     data
            local     ee340133b858e007d04ce945f4e3ddb12b68518ebbd1cd3e5396ab599901824c
            local     vol9
            local     vol10

            """)
        #expect(try VolumeFormat.renderList([], format: nil, quiet: false) == "DRIVER    VOLUME NAME\n")
        #expect(try VolumeFormat.renderList(vols, format: "table", quiet: true) == "data\nee340133b858e007d04ce945f4e3ddb12b68518ebbd1cd3e5396ab599901824c\nvol9\nvol10\n")
    }

    @Test func listQuietWithFormatUsesTheFormat() throws {
        let vols = [Self.volume("data", labels: ["a": "b", "c": ""]), Self.volume("vol9")]
        // As docker: an explicit format wins over -q.
        #expect(try VolumeFormat.renderList(vols, format: "{{.Name}} {{.Labels}} {{.Label \"a\"}}", quiet: true) == "data a=b,c= b\nvol9  \n")
    }

    @Test func listJSONAndTemplates() throws {
        let v = Self.volume("data", labels: ["c": "", "a": "b"])
        #expect(try VolumeFormat.renderList([v], format: "json", quiet: false) ==
            #"{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"a=b,c=","Links":"N/A","Mountpoint":"/var/lib/berth/volumes/data/_data","Name":"data","Scope":"local","Size":"N/A","Status":"N/A"}"# + "\n")
        let table = try VolumeFormat.renderList([v, Self.volume("x", size: 1_500_000, refs: 2)],
                                                format: "table {{.Name}}\t{{.Scope}}\t{{.Links}}\t{{.Size}}\t{{.Labels}}", quiet: false)
        #expect(table == "VOLUME NAME   SCOPE     LINKS     SIZE      LABELS\n"
            + "data          local     N/A       N/A       a=b,c=\n"
            + "x             local     2         1.5MB     \n")
    }

    @Test func naturalOrder() {
        #expect(VolumeFormat.naturalLess("vol9", "vol10"))
        #expect(!VolumeFormat.naturalLess("vol10", "vol9"))
        #expect(VolumeFormat.naturalLess("1abc", "abc"))  // digits first
        #expect(VolumeFormat.naturalLess("a01", "a001"))  // fewer leading zeros first
        #expect(VolumeFormat.naturalLess("a", "ab"))
        #expect(!VolumeFormat.naturalLess("a", "a"))
        #expect(VolumeFormat.naturalLess("B", "a"))  // bytewise otherwise
    }

    // MARK: inspect, rm, group

    @Test func groupAndAliases() throws {
        let list = try BerthCommand.parseAsRoot(["volume", "list", "-q"])
        #expect((list as? VolumeListCommand)?.quiet == true)
        let rm = try BerthCommand.parseAsRoot(["volume", "remove", "-f", "a", "b"])
        #expect((rm as? VolumeRemoveCommand)?.force == true)
        #expect((rm as? VolumeRemoveCommand)?.volumes == ["a", "b"])
        let inspect = try BerthCommand.parseAsRoot(["volume", "inspect", "-f", "{{.Mountpoint}}", "a", "b"])
        #expect((inspect as? VolumeInspectCommand)?.format == "{{.Mountpoint}}")
        #expect((inspect as? VolumeInspectCommand)?.volumes == ["a", "b"])
        #expect(throws: (any Error).self) { try BerthCommand.parseAsRoot(["volume", "rm"]) }
        #expect(throws: (any Error).self) { try BerthCommand.parseAsRoot(["volume", "inspect"]) }
        #expect(try BerthCommand.parseAsRoot(["volume", "create", "v"]) is VolumeCreateCommand)
        #expect(try BerthCommand.parseAsRoot(["volume", "prune", "-af"]) is VolumePruneCommand)
    }

    // MARK: prune

    @Test func pruneFiltersAndWarning() throws {
        let plain = try VolumePruneCommand.parse(["-f"])
        #expect(plain.force)
        #expect(try plain.filters().values.isEmpty)
        #expect(plain.warning == "WARNING! This will remove anonymous local volumes not used by at least one container.")
        let all = try VolumePruneCommand.parse(["-a", "--filter", "label=team=db", "--filter", "label!=keep"])
        #expect(try all.filters().values == ["all": ["true"], "label": ["team=db"], "label!": ["keep"]])
        #expect(all.warning == "WARNING! This will remove all local volumes not used by at least one container.")
        #expect(!all.force)
        let conflict = Self.errorText { try VolumePruneCommand.parse(["-a", "--filter", "all=1"]).filters() }
        #expect(conflict == "conflicting options: cannot specify both --all and --filter all=1")
        // Without -a the filter is passed as given.
        #expect(try VolumePruneCommand.parse(["--filter", "all=true"]).filters().values == ["all": ["true"]])
    }

    @Test func pruneReport() {
        #expect(VolumePruneCommand.report(VolumePruneResponse(VolumesDeleted: ["a", "b"], SpaceReclaimed: 12_345)) ==
            "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 12.35kB")
        #expect(VolumePruneCommand.report(VolumePruneResponse(VolumesDeleted: nil, SpaceReclaimed: 0)) == "Total reclaimed space: 0B")
        #expect(VolumePruneCommand.report(VolumePruneResponse(VolumesDeleted: [], SpaceReclaimed: 0)) == "Total reclaimed space: 0B")
    }

    // MARK: system df

    @Test func diskUsageRow() {
        let vols = [Self.volume("a", size: 1000, refs: 1), Self.volume("b", size: 3000, refs: 0), Self.volume("c", size: -1, refs: 0),
                    Self.volume("d", size: 0, refs: 2)]
        #expect(VolumeFormat.diskUsageRow(vols) == [
            "Type": "Local Volumes", "TotalCount": "4", "Active": "2", "Size": "4kB", "Reclaimable": "3kB (75%)",
        ])
        #expect(VolumeFormat.diskUsageRow([]) == ["Type": "Local Volumes", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"])
        #expect(VolumeFormat.diskUsageRow([Self.volume("x", size: 0, refs: 1)])["Reclaimable"] == "0B")
    }

    @Test func systemDFTable() throws {
        let du = SystemDataUsage(LayersSize: 0, Images: [], Volumes: [Self.volume("a", size: 2_000_000, refs: 1), Self.volume("b", size: 1_000_000)])
        #expect(try SystemDFCommand.render(du, format: nil, verbose: false) == """
            TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
            Images          0         0         0B        0B
            Containers      0         0         0B        0B
            Local Volumes   2         1         3MB       1MB (33%)
            Build Cache     0         0         0B        0B

            """)
        let json = try SystemDFCommand.render(du, format: "json", verbose: false)
        #expect(json.split(separator: "\n")[2] == #"{"Active":"1","Reclaimable":"1MB (33%)","Size":"3MB","TotalCount":"2","Type":"Local Volumes"}"#)
    }

    @Test func systemDFVerbose() throws {
        let du = SystemDataUsage(LayersSize: 0, Images: [], Volumes: [Self.volume("vol10", size: 12, refs: 0),
                                                                    Self.volume("5e3c48d51c5d3c1ff770137f631b57a1d2608b5332d066374b2e9087614a70c9", size: 1_234_567, refs: 1)])
        #expect(try SystemDFCommand.render(du, format: nil, verbose: true) == """
            Images space usage:

            REPOSITORY   TAG       IMAGE ID   CREATED   SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS

            Containers space usage:

            CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES

            Local Volumes space usage:

            VOLUME NAME                                                        LINKS     SIZE
            vol10                                                              0         12B
            5e3c48d51c5d3c1ff770137f631b57a1d2608b5332d066374b2e9087614a70c9   1         1.235MB

            Build cache usage: 0B

            CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED

            """)
        let json = try SystemDFCommand.render(SystemDataUsage(LayersSize: 0, Images: [], Volumes: [Self.volume("v", size: 0, refs: 1)]),
                                              format: "json", verbose: true)
        #expect(json == #"{"Images":[],"Containers":[],"Volumes":[{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"1","Mountpoint":"/var/lib/berth/volumes/v/_data","Name":"v","Scope":"local","Size":"0B","Status":"N/A"}],"BuildCache":[]}"# + "\n")
    }
}
