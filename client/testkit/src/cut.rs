//! [`CutRelay`]: a TCP relay on 127.0.0.1 that breaks the connection carrying the client's
//! `cut_after`-th byte (counted over every connection), once, as a network that fails in the middle
//! of an upload; before and after that, everything passes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Client bytes forwarded so far, and whether the cut happened.
#[derive(Debug, Default)]
struct Count {
    forwarded: u64,
    cut: bool,
}

/// A relay to `upstream` breaking one connection once `cut_after` client bytes went through;
/// stops when dropped.
#[derive(Debug)]
pub struct CutRelay {
    /// `http://127.0.0.1:PORT`: where clients connect instead of the upstream.
    pub url: String,
    count: Arc<Mutex<Count>>,
    task: tokio::task::JoinHandle<()>,
}

impl CutRelay {
    pub async fn start(upstream: SocketAddr, cut_after: u64) -> CutRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let count = Arc::new(Mutex::new(Count::default()));
        let counted = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else { continue };
                tokio::spawn(relay(client, server, cut_after, counted.clone()));
            }
        });
        CutRelay { url, count, task }
    }

    /// Whether a connection was cut.
    pub fn was_cut(&self) -> bool {
        self.count.lock().expect("lock").cut
    }

    /// Client bytes forwarded, over every connection.
    pub fn forwarded(&self) -> u64 {
        self.count.lock().expect("lock").forwarded
    }
}

impl Drop for CutRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, cut_after: u64, count: Arc<Mutex<Count>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            // How much of this read passes, and whether the connection is cut after it.
            let (pass, cut) = {
                let mut count = count.lock().expect("lock");
                if !count.cut && count.forwarded + n as u64 >= cut_after {
                    let pass = usize::try_from(cut_after.saturating_sub(count.forwarded)).unwrap_or(n).min(n);
                    count.forwarded += pass as u64;
                    count.cut = true;
                    (pass, true)
                } else {
                    count.forwarded += n as u64;
                    (n, false)
                }
            };
            if server_write.write_all(&buffer[..pass]).await.is_err() || cut {
                return;
            }
        }
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    // Either direction ending ends both: the cut closes the client's and the server's side.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}
