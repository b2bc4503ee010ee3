//! # vmledger-e2e
//!
//! End-to-end tests of vmledger on a real Fabric network: the `vmledger` CLI, the SDK and the
//! destination agent, against the members' gateway REST proxies.
//!
//! The tests are `#[ignore]`d unless asked for, because they need a running network:
//!
//! ```text
//! network/vmledger-net up
//! cargo build -p vmledger-cli --bin vmledger
//! cargo test -p vmledger-e2e -- --ignored
//! ```
//!
//! They read `network/run/members.json` (or `VMLEDGER_NETWORK_FILE`) and fail with a clear message
//! when it is absent or a proxy is not ready. Every test makes its own clouds, hosts and VMs with
//! ids unique to the run, so reruns on the same ledger work and tests run in parallel.
//!
//! This library is the scenario harness the tests are written in: [`Federation`] (the network,
//! its members' typed ledgers and the CLI), [`Scenario`] (two clouds with hosts chosen to exercise
//! each rule), [`Cli`] (one `vmledger` invocation) and [`Agent`] (a running `vmledger agent`).

pub mod faults;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sha2::Digest;
use vmledger_client::relay::RelayStatus;
use vmledger_client::{Chains, Members, Profile, VmLedger};
use vmledger_contract::model::{Allowed, Prices, Regulation, Resources};
use vmledger_contract::msg;

/// Exit codes of the CLI: the contract's vocabulary.
pub use vmledger_contract::vocabulary::exit;

/// The running network, as members.json describes it.
#[derive(Debug, Clone)]
pub struct Federation {
    pub members_file: PathBuf,
    pub members: Members,
}

/// `GET /readyz` of a proxy answers 200.
fn ready(url: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).map_err(|e| e.to_string())?;
    write!(stream, "GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.lines().next().unwrap_or_default().to_owned();
    if status.contains(" 200 ") { Ok(()) } else { Err(format!("answered `{status}`")) }
}

/// Runs a future on the harness's runtime (the SDK is async; the tests are plain `#[test]`s).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
        })
        .block_on(future)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Federation {
    /// Reads members.json and checks that every member's proxy is ready. Panics with what to do
    /// when the network is not there.
    pub fn connect() -> Federation {
        static CHECKED: OnceLock<Federation> = OnceLock::new();
        CHECKED
            .get_or_init(|| {
                let members_file = std::env::var_os("VMLEDGER_NETWORK_FILE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| workspace_root().join("network/run/members.json"));
                let members = Members::load(&members_file).unwrap_or_else(|e| {
                    panic!("end-to-end tests need a running network: {e}: {}\nstart it with `network/vmledger-net up`", std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default())
                });
                assert!(members.members.len() >= 2, "end-to-end tests need at least two members in {}", members_file.display());
                for member in &members.members {
                    if let Err(why) = ready(&member.proxy.url) {
                        panic!("the proxy of {} at {} is not ready ({why}): is the network up? `network/vmledger-net status`", member.org, member.proxy.url);
                    }
                }
                Federation { members_file, members }
            })
            .clone()
    }

    /// The org names of the first two members: the source and the destination of the scenarios.
    pub fn orgs(&self) -> (String, String) {
        (self.members.members[0].org.clone(), self.members.members[1].org.clone())
    }

    /// A cloud or host id unique to this run in `org`'s namespace (`org1.{prefix}-{run}-{n}`): a
    /// member names only its own.
    pub fn owned(&self, org: &str, prefix: &str) -> String {
        let member = self.members.member(org).unwrap_or_else(|e| panic!("{e}"));
        format!("{}.{}", member.namespace(), unique(prefix))
    }

    /// The typed contract as `identity` (`manager`/`operator`) of `org`.
    pub fn ledger(&self, org: &str, identity: &str) -> VmLedger {
        Profile::from_members(&self.members, org, identity)
            .map(|p| p.ledger().expect("gateway"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The federation and `org`'s local chain as `identity`: what routes migrations.
    pub fn chains(&self, org: &str, identity: &str) -> Chains {
        Profile::from_members(&self.members, org, identity)
            .map(|p| p.chains_with(|b| b).expect("gateway"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The typed contract on `channel` as `identity` of `org` (e.g. its relay on its local chain).
    pub fn ledger_on(&self, org: &str, identity: &str, channel: &str) -> VmLedger {
        let member = self.members.member(org).unwrap_or_else(|e| panic!("{e}"));
        let gateway = member.gateway(identity).unwrap_or_else(|e| panic!("{e}")).connect().expect("gateway");
        VmLedger::new(gateway.network(channel).contract(&self.members.chaincode))
    }

    /// `org`'s local channel, as members.json gives it.
    pub fn local_channel(&self, org: &str) -> String {
        let member = self.members.member(org).unwrap_or_else(|e| panic!("{e}"));
        member.local_channel.clone().unwrap_or_else(|| panic!("members.json gives {org} no localChannel"))
    }

    /// `org`'s relay status.
    pub fn relay(&self, org: &str) -> RelayStatus {
        let member = self.members.member(org).unwrap_or_else(|e| panic!("{e}"));
        let url = &member.relay.as_ref().unwrap_or_else(|| panic!("members.json gives {org} no relay")).url;
        block_on(vmledger_client::relay::status_of(url)).unwrap_or_else(|e| panic!("the relay of {org}: {e}"))
    }

    /// Runs `network/vmledger-net ARGS` on this network (the run folder of members.json); panics
    /// with its output when it fails.
    pub fn net(&self, args: &[&str]) {
        if let Err(said) = self.try_net(args) {
            panic!("vmledger-net {args:?} failed:\n{said}");
        }
    }

    /// Runs `network/vmledger-net ARGS`; what it said when it failed.
    pub fn try_net(&self, args: &[&str]) -> Result<(), String> {
        let run = self.members_file.parent().expect("run folder");
        let output = Command::new(workspace_root().join("network/vmledger-net"))
            .arg("--run")
            .arg(run)
            .args(args)
            .output()
            .expect("run vmledger-net");
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
        }
    }

    /// A `vmledger` invocation as `identity` of `org`.
    pub fn cli(&self, org: &str, identity: &str) -> Cli {
        Cli::new()
            .arg("--network-file")
            .arg(self.members_file.to_str().expect("utf-8 path"))
            .args(["--member", org, "--as", identity, "--quiet"])
    }
}

/// The transfer key of the tests where no image travels.
const NO_IMAGE_KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// An Indication of `vm` to `host` for an image hashing to `hash`, where no image travels: a fixed
/// transfer key, and the hash standing for the image's HMAC under it.
pub fn indication(vm: &str, host: &str, hash: &str) -> msg::Migrate {
    let key = vmledger_client::image::TransferKey::from_hex(NO_IMAGE_KEY).expect("a well-formed key");
    msg::Migrate {
        vm_id: vm.to_owned(),
        destination_host_id: host.to_owned(),
        image_hash: Some(hash.to_owned()),
        keyed_digest: Some(hash.to_owned()),
        transfer_key_hash: Some(key.hash()),
        ..msg::Migrate::default()
    }
}

/// The Confirmation of an [`indication`] by a destination that observed `hash`.
pub fn confirmation(migration_id: &str, hash: &str) -> msg::ConfirmMigration {
    msg::ConfirmMigration {
        migration_id: migration_id.to_owned(),
        observed_hash: hash.to_owned(),
        transfer_key: NO_IMAGE_KEY.to_owned(),
        keyed_digest: hash.to_owned(),
    }
}

/// A name unique to this run: `{prefix}-{run}-{n}`.
pub fn unique(prefix: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    static N: AtomicU32 = AtomicU32::new(0);
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{:x}", (nanos / 1000) as u64 ^ u64::from(std::process::id()))
    });
    format!("{prefix}-{run}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// The `vmledger` binary next to this test executable (built by `cargo build -p vmledger-cli`).
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("VMLEDGER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/it-… → target/<profile>/vmledger
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let binary = profile_dir.join("vmledger");
    assert!(
        binary.is_file(),
        "the CLI is not built: run `cargo build -p vmledger-cli --bin vmledger` first (looked for {})",
        binary.display()
    );
    binary
}

/// One `vmledger` invocation.
#[derive(Debug, Clone, Default)]
pub struct Cli {
    args: Vec<String>,
}

/// What a `vmledger` invocation did.
#[derive(Debug, Clone)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect(self, code: u8) -> Ran {
        assert_eq!(
            self.code,
            i32::from(code),
            "exit code {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Cli {
    pub fn new() -> Cli {
        Cli::default()
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Cli {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Cli {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(binary());
        for (key, _) in std::env::vars() {
            if key.starts_with("VMLEDGER_") {
                command.env_remove(key);
            }
        }
        // No user config file: the tests' flags are the whole connection.
        command.env("XDG_CONFIG_HOME", std::env::temp_dir().join("vmledger-e2e-no-config"));
        command.args(&self.args);
        command
    }

    /// Runs to completion (blocking: call from `spawn_blocking` in async tests).
    pub fn run(&self) -> Ran {
        let output = self.command().output().expect("run vmledger");
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts `vmledger … agent` (the args must end with the agent's) and waits for it to listen.
    pub fn start_agent(&self) -> Agent {
        let mut child =
            self.command().stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start the agent");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("the agent's first line");
        let started: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("the agent did not start: `{line}`"));
        Agent { url: started["url"].as_str().expect("url").to_owned(), child }
    }
}

/// A running destination agent; stopped when dropped.
#[derive(Debug)]
pub struct Agent {
    pub url: String,
    child: Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SIGTERM first: the agent then stops the QEMUs it started; SIGKILL if it lingers.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A VM image on disk, and its SHA-256.
#[derive(Debug, Clone)]
pub struct Image {
    pub path: PathBuf,
    pub hash: String,
    pub bytes: u64,
}

impl Image {
    /// Writes `size` bytes of content derived from `seed` into `dir`.
    pub fn make(dir: &Path, seed: &str, size: usize) -> Image {
        let mut data = Vec::with_capacity(size + 32);
        let mut block = sha2::Sha256::digest(seed.as_bytes());
        while data.len() < size {
            data.extend_from_slice(&block);
            block = sha2::Sha256::digest(block);
        }
        data.truncate(size);
        Image::write(dir, &format!("{seed}.raw"), &data)
    }

    pub fn write(dir: &Path, name: &str, data: &[u8]) -> Image {
        let path = dir.join(name);
        std::fs::write(&path, data).expect("write image");
        Image { path, hash: hex::encode(sha2::Sha256::digest(data)), bytes: data.len() as u64 }
    }

    /// The same image with one byte changed.
    pub fn tampered(&self, dir: &Path) -> Image {
        let mut data = std::fs::read(&self.path).expect("read image");
        let middle = data.len() / 2;
        data[middle] ^= 0xff;
        Image::write(dir, "tampered.raw", &data)
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("utf-8 path")
    }
}

/// Two clouds of two members, with hosts chosen so that each rule can be broken on its own.
///
/// The VM's regulation allows countries JP and GB and organisations CompanyA and CompanyB.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub federation: Federation,
    /// Member operating cloud A (the source) and member operating cloud B (the destination).
    pub org_a: String,
    pub org_b: String,
    pub cloud_a: String,
    pub cloud_b: String,
    /// Cloud A, JP, CompanyA: where the VM starts.
    pub host_a: String,
    /// Cloud A, JP, CompanyA: a second host of the same cloud (local migrations).
    pub host_a2: String,
    /// Cloud B, GB, CompanyB: permitted.
    pub host_b: String,
    /// Cloud B, US, CompanyB: denied by country.
    pub host_b_us: String,
    /// Cloud B, GB, CompanyC: denied by organisation.
    pub host_b_other_org: String,
    /// Cloud B, GB, CompanyB, 1 core: denied by capacity.
    pub host_b_tiny: String,
}

/// What a VM needs in the scenarios: 2 cores.
pub const VM_NEEDS: Resources = Resources { cpu_cores: 2, memory_mib: 2048, network_mbps: 100, io_mbps: 50 };

impl Scenario {
    /// Registers the clouds (with prices) and hosts, through the SDK as each member's manager.
    pub fn given_two_clouds() -> Scenario {
        let federation = Federation::connect();
        let (org_a, org_b) = federation.orgs();
        let s = Scenario {
            cloud_a: federation.owned(&org_a, "cloud-a"),
            cloud_b: federation.owned(&org_b, "cloud-b"),
            host_a: federation.owned(&org_a, "a-jp"),
            host_a2: federation.owned(&org_a, "a-jp2"),
            host_b: federation.owned(&org_b, "b-gb"),
            host_b_us: federation.owned(&org_b, "b-us"),
            host_b_other_org: federation.owned(&org_b, "b-gb-c"),
            host_b_tiny: federation.owned(&org_b, "b-gb-tiny"),
            org_a,
            org_b,
            federation,
        };
        let manager_a = s.federation.ledger(&s.org_a, "manager");
        let manager_b = s.federation.ledger(&s.org_b, "manager");
        let prices = |currency: &str, cpu: u64| Prices {
            currency: currency.into(),
            cpu_core_hour: cpu,
            memory_gib_hour: 1000,
            network_mbps_hour: 10,
            io_mbps_hour: 5,
        };
        let cloud_a = msg::RegisterCloud {
            id: s.cloud_a.clone(),
            name: "Cloud A".into(),
            prices: Some(prices("JPY", 5_000_000)),
        };
        let cloud_b =
            msg::RegisterCloud { id: s.cloud_b.clone(), name: "Cloud B".into(), prices: Some(prices("EUR", 30_000)) };
        let (a, b) =
            block_on(async { tokio::join!(manager_a.register_cloud(&cloud_a), manager_b.register_cloud(&cloud_b)) });
        a.expect("register cloud A");
        b.expect("register cloud B");
        let big = Resources { cpu_cores: 16, memory_mib: 65536, network_mbps: 10000, io_mbps: 2000 };
        let host = |id: &str, cloud: &str, country: &str, org: &str, capacity: Resources| msg::RegisterHost {
            id: id.into(),
            cloud_id: cloud.into(),
            country: country.into(),
            organizations: vec![org.into()],
            capacity,
        };
        let tiny = Resources { cpu_cores: 1, ..big };
        let hosts = [
            host(&s.host_a, &s.cloud_a, "JP", "CompanyA", big),
            host(&s.host_b, &s.cloud_b, "GB", "CompanyB", big),
            host(&s.host_b_us, &s.cloud_b, "US", "CompanyB", big),
            host(&s.host_b_other_org, &s.cloud_b, "GB", "CompanyC", big),
            host(&s.host_b_tiny, &s.cloud_b, "GB", "CompanyB", tiny),
        ];
        block_on(manager_a.register_host(&host(&s.host_a2, &s.cloud_a, "JP", "CompanyA", big)))
            .unwrap_or_else(|e| panic!("register host A2: {e}"));
        let (r1, r2, r3, r4, r5) = block_on(async {
            tokio::join!(
                manager_a.register_host(&hosts[0]),
                manager_b.register_host(&hosts[1]),
                manager_b.register_host(&hosts[2]),
                manager_b.register_host(&hosts[3]),
                manager_b.register_host(&hosts[4]),
            )
        });
        for (what, r) in [("A", r1), ("B", r2), ("B us", r3), ("B other org", r4), ("B tiny", r5)] {
            r.unwrap_or_else(|e| panic!("register host {what}: {e}"));
        }
        s
    }

    /// The regulation of the scenario's VMs.
    pub fn regulation() -> Regulation {
        Regulation {
            countries: Allowed::Only(vec!["JP".into(), "GB".into()]),
            organizations: Allowed::Only(vec!["CompanyA".into(), "CompanyB".into()]),
        }
    }

    /// Registers a VM of cloud A on host A with `image`'s hash, through the CLI as A's user.
    pub fn given_a_vm(&self, image: &Image) -> String {
        let vm = unique("vm");
        self.cli_a("operator")
            .args(["vm", "register", "--id", &vm, "--cloud", &self.cloud_a, "--host", &self.host_a])
            .args(["--cpu", "2", "--memory-mib", "2048", "--network-mbps", "100", "--io-mbps", "50"])
            .args(["--image-hash", &image.hash, "--countries", "JP,GB", "--organizations", "CompanyA,CompanyB"])
            .run()
            .expect(exit::OK);
        vm
    }

    /// `migrate start` of `vm` to `host` as A's operator with `image`: the migration's id and the
    /// transfer key the destination needs.
    pub fn indicate(&self, vm: &str, host: &str, image: &Image) -> (String, String) {
        let started = self
            .cli_a("operator")
            .args(["--json", "migrate", "start", "--vm", vm, "--to-host", host, "--image", image.path_str()])
            .run()
            .expect(exit::OK)
            .json();
        let id = started["indicated"]["txId"].as_str().expect("tx id").to_owned();
        (id, started["transferKey"].as_str().expect("transfer key").to_owned())
    }

    /// `migrate run` of `vm` to `host` as A's user: the image is copied into the folder `landing`,
    /// where member `dest_org` hashes it and confirms. Add flags (`--json`) and run it.
    pub fn migrate_through_folder(&self, vm: &str, host: &str, image: &Image, landing: &Path, dest_org: &str) -> Cli {
        self.cli_a("operator")
            .args(["migrate", "run", "--vm", vm, "--to-host", host, "--image", image.path_str()])
            .args(["--to-dir", landing.to_str().expect("path"), "--dest-member", dest_org])
    }

    /// The CLI as `identity` of the source member.
    pub fn cli_a(&self, identity: &str) -> Cli {
        self.federation.cli(&self.org_a, identity)
    }

    /// The CLI as `identity` of the destination member.
    pub fn cli_b(&self, identity: &str) -> Cli {
        self.federation.cli(&self.org_b, identity)
    }

    pub fn ledger_a(&self) -> VmLedger {
        self.federation.ledger(&self.org_a, "operator")
    }

    pub fn ledger_b(&self) -> VmLedger {
        self.federation.ledger(&self.org_b, "operator")
    }
}
