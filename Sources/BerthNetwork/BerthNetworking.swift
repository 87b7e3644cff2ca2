/// BerthNetwork: bridge networks for containers (see README.md).
public enum BerthNetworking {
    /// The nftables table Berth owns when the state root is the default one.
    public static let defaultTable = "berth"
}
