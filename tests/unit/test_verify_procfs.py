from bakery.verify import procfs

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B00007F:8BF3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 38082 1
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 37345 1
   2: 0100007F:1F90 0100007F:C3B0 06 00000000:00000000 03:0000170F 00000000     0        0 0 3
   3: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
"""
TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:2118 00000000000000000000000000000000:0000 0A 0
   1: 00000000000000000000000001000000:0CEA 00000000000000000000000000000000:0000 0A 0
"""


def test_listening_sockets_from_tcp_and_tcp6_together():
    listeners = procfs.parse_net_tcp(TCP + TCP6)
    assert procfs.Listener("0.0.0.0", 8080) in listeners
    assert procfs.Listener("127.0.0.11", 35827) in listeners
    assert procfs.Listener("127.0.0.1", 22) in listeners
    assert procfs.Listener("0:0:0:0:0:0:0:0", 8472) in listeners
    assert procfs.Listener("0:0:0:0:0:0:0:1", 3306) in listeners
    # the TIME_WAIT connection (st 06) is not a listener
    assert len([x for x in listeners if x.port == 8080]) == 1


def test_reachable_ports_leave_out_loopback():
    assert procfs.reachable_ports(procfs.parse_net_tcp(TCP + TCP6)) == {8080, 8472}


def test_status_and_effective_uid():
    status = procfs.parse_status("Name:\tnginx\nState:\tS (sleeping)\nUid:\t0\t33\t33\t33\n")
    assert status["Name"] == "nginx"
    assert procfs.effective_uid(status) == 33


def test_declared_user_maps_to_uid():
    passwd = procfs.parse_passwd("root:x:0:0:root:/root:/bin/bash\n"
                                 "www-data:x:33:33::/var/www:/usr/sbin/nologin\n")
    assert procfs.expected_uid("www-data", passwd) == 33
    assert procfs.expected_uid("www-data:www-data", passwd) == 33
    assert procfs.expected_uid("1000", passwd) == 1000
    assert procfs.expected_uid("nobody", passwd) is None


def test_expected_programs_see_through_a_shell():
    assert procfs.expected_programs(None, ["nginx", "-g", "daemon off;"]) == ["nginx"]
    assert procfs.expected_programs(None, ["/bin/sh", "-c", "exec FOO=1 /usr/sbin/haproxy -f x"]) == \
        ["sh", "haproxy"]
    assert procfs.expected_programs(["/entry.sh"], ["app"]) == ["entry.sh", "app"]
    script = 'printf %s "$TOKEN" > /tmp/t && exec nginx -g "daemon off;"'
    assert procfs.expected_programs(None, ["/bin/sh", "-c", script]) == ["sh", "printf", "nginx"]


def test_process_matches_rewritten_titles_and_comm():
    assert procfs.process_matches("nginx", ["nginx: master process nginx -g daemon off;"], ["nginx"])
    assert procfs.process_matches("haproxy", ["haproxy", "-W"], ["haproxy"])
    assert not procfs.process_matches("process_api", ["/process_api", "--x"], ["nginx"])
    assert procfs.process_matches("a-very-long-pro", ["/usr/bin/a-very-long-program"],
                                  ["a-very-long-program"])
