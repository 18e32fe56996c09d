import io
import tarfile

from bakery.verify import secretscan

KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def tar_of(files: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_private_keys_credential_files_and_injected_values_are_found():
    stream = tar_of({
        "root/.ssh/id_ed25519": KEY,
        "root/.ssh/id_ed25519.pub": b"ssh-ed25519 AAAA user@host",
        "root/.aws/credentials": b"[default]\n",
        "root/app.conf": b"password = bakery-test-db_password-123\n",
        "root/readme": b"nothing here",
    })
    findings = secretscan.scan_tar(stream, ["bakery-test-db_password-123"],
                                   {"bakery-test-db_password-123": "DB_PASSWORD"})
    shown = sorted(str(f) for f in findings)
    assert shown == [
        "credentials file: /root/.aws/credentials",
        "credentials file: /root/.ssh/id_ed25519",
        "private key: /root/.ssh/id_ed25519",
        "secret value: /root/app.conf (value of DB_PASSWORD)",
    ]
    assert all("bakery-test-db_password-123" not in s for s in shown)


def test_entry_names_are_placed_under_the_scanned_folders_parent():
    findings = secretscan.scan_tar(tar_of({"www/html/key.pem": KEY}), parent="/var")
    assert [f.where for f in findings] == ["/var/www/html/key.pem"]


def test_clean_tree_has_no_findings_and_dpkg_data_is_skipped():
    stream = tar_of({"etc/passwd": b"root:x:0:0::/root:/bin/sh\n",
                     "var/lib/dpkg/info/x.md5sums": KEY})
    assert secretscan.scan_tar(stream) == []


def test_config_with_a_baked_declared_secret_or_a_token():
    findings = secretscan.scan_config(
        {"DB_PASSWORD": "hunter2hunter2", "PATH": "/usr/bin:/bin", "GREETING": "hello from bakery",
         "UPSTREAM": "https://user:pw@example.org/"},
        {"org.opencontainers.image.title": "web", "io.bakery.definition": '{"secrets":["API_TOKEN"]}'},
        ["DB_PASSWORD"])
    assert [f.where for f in findings] == ["env DB_PASSWORD", "env UPSTREAM"]


def test_scan_dirs_add_the_folders_of_copied_files_once():
    dirs = secretscan.scan_dirs(["/etc/nginx/nginx.conf", "/usr/share/bakery-web/index.html.in",
                                 "/usr/share/bakery-web/other"])
    assert dirs.count("/usr/share/bakery-web") == 1
    assert "/etc/nginx" not in dirs
