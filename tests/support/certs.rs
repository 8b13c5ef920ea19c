//! Test certificates made with openssl: a CA, a server certificate for `localhost` only (no IP
//! address, so `verify-full` to 127.0.0.1 must fail), and a client certificate for mutual TLS.
use std::path::Path;
use std::process::Command;

/// Writes `ca.pem`, `server.crt`/`server.key` (CN and SAN `localhost`) and
/// `client.crt`/`client.key` (CN `client_user`) into `dir`; the server files are made readable
/// by the postgres user, which runs the test PostgreSQL.
pub fn make_certs(dir: &Path, client_user: &str) {
    let sh = |script: &str| {
        let out = Command::new("/bin/sh")
            .args(["-ec", script])
            .current_dir(dir)
            .output()
            .expect("openssl (install openssl)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(&format!("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj '/CN=casefile test CA' -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
        printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key -out client.csr -subj '/CN={client_user}' 2>/dev/null
        printf 'basicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=clientAuth\\n' > client.cnf
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.cnf 2>/dev/null
        chown postgres:postgres server.key server.crt && chmod 600 server.key client.key && chmod 644 ca.pem"));
}
