"""HAProxy runtime API command strings and answer parsers."""

import pytest

from bakery.balancer import commands as cmd
from bakery.errors import BalancerError

STAT = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,"
    "status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,"
    "type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,"
    "hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,"
    "comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,addr\n"
    "web,FRONTEND,,,0,1,4096,9,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,,0,9,0,0,0,0,,0,1,9,,,0,0,0,0,"
    ",,,,,,,,\n"
    "app,blue1,0,0,2,3,,120,0,0,,0,,0,0,0,0,UP,100,1,0,0,0,5,0,,1,4,1,,120,,2,0,,3,L7OK,200,1,0,110,0,3,"
    "7,0,,,,,0,0,,,,,0,,,0,0,4,5,172.20.0.3:8080\n"
    "app,green1,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,0,1,0,0,0,5,5,,1,4,2,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,,0,0,"
    ",,,,-1,,,0,0,0,0,\n"
    "app,BACKEND,0,0,2,3,410,120,0,0,0,0,,0,0,0,0,UP,100,1,0,,0,5,0,,1,4,0,,120,,1,0,,3,,,,0,110,0,3,7,0,"
    ",,,,0,0,0,0,0,0,0,,,0,0,4,5,\n"
)


def test_set_commands():
    assert cmd.set_addr("green", 1, "172.20.0.5", 8080) == "set server app/green1 addr 172.20.0.5 port 8080"
    assert cmd.set_state("blue", 2, "drain") == "set server app/blue2 state drain"
    assert cmd.set_weight("green", 3, 40) == "set weight app/green3 40"
    assert cmd.show_servers_state() == "show servers state app"


@pytest.mark.parametrize("call", [
    lambda: cmd.set_addr("green", 1, "1.2.3.4; shutdown", 80),
    lambda: cmd.set_addr("green", 1, "1.2.3.4", 0),
    lambda: cmd.set_state("green", 1, "up"),
    lambda: cmd.set_weight("green", 1, 257),
    lambda: cmd.set_weight("purple", 1, 1),
    lambda: cmd.server_name("blue", 0),
])
def test_bad_commands_are_refused(call):
    with pytest.raises(ValueError):
        call()


def test_other_colour():
    assert cmd.other("blue") == "green"
    assert cmd.other("green") == "blue"


@pytest.mark.parametrize("percent, ng, nb, share", [
    (10, 2, 2, 0.10), (50, 2, 2, 0.50), (25, 3, 1, 0.25), (5, 1, 3, 0.05), (90, 2, 3, 0.90),
])
def test_split_weights_keep_the_share(percent, ng, nb, share):
    w = cmd.split_weights(percent, ng, nb)
    assert 0 < w["green"] <= 256 and 0 < w["blue"] <= 256
    got = ng * w["green"] / (ng * w["green"] + nb * w["blue"])
    assert got == pytest.approx(share, abs=0.01)


def test_split_weights_ends():
    assert cmd.split_weights(100, 2, 2)["blue"] == 0
    assert cmd.split_weights(0, 2, 2)["green"] == 0


def test_parse_stat_keeps_backend_servers():
    stats = cmd.parse_stat(STAT)
    assert set(stats) == {"blue1", "green1"}
    blue = stats["blue1"]
    assert blue.status == "UP" and blue.up and blue.weight == 100 and blue.scur == 2
    assert blue.hrsp_2xx == 110 and blue.hrsp_5xx == 7 and blue.responses == 120
    assert blue.rtime_ms == 4 and blue.addr == "172.20.0.3:8080" and blue.colour == "blue"
    assert stats["green1"].in_maint and stats["green1"].index == 1


def test_parse_stat_rejects_garbage():
    with pytest.raises(BalancerError):
        cmd.parse_stat("Unknown command\n")


def test_parse_servers_state():
    text = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
            "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
            "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port\n"
            "4 app 1 blue1 172.20.0.3 2 0 100 0 7 6 3 4 6 0 0 0 - 8080\n"
            "4 app 21 green1 - 0 5 0 0 7 1 0 0 14 0 0 0 - 8080\n"
            "4 app 22 green2 172.20.0.9 2 8 0 0 7 6 3 4 6 0 0 0 - 8080\n")
    state = cmd.parse_servers_state(text)
    assert state["blue1"].addr == "172.20.0.3" and state["blue1"].weight == 100
    assert not state["blue1"].in_maint
    assert state["green1"].in_maint
    assert state["green2"].draining and not state["green2"].in_maint


def test_answers():
    cmd.check_answer("set weight app/blue1 3", "\n")
    cmd.check_answer("set server app/blue1 addr 1.2.3.4 port 80",
                     "IP changed from '127.0.0.1' to '1.2.3.4', port changed from '80' to '8080'\n")
    with pytest.raises(BalancerError, match="No such server"):
        cmd.check_answer("set weight app/blue99 3", "No such server.\n")


def test_slots_added_at_run_time_look_like_template_slots():
    from bakery.balancer.commands import add_server, enable_health

    opts = "check inter 500ms fastinter 500ms downinter 500ms rise 2 fall 2"
    assert add_server("green", 21, 8080, opts) == \
        f"add server app/green21 127.0.0.1:8080 disabled weight 0 {opts}"
    assert enable_health("green", 21) == "enable health app/green21"
    with pytest.raises(ValueError):
        add_server("green", 21, 0, opts)
    with pytest.raises(ValueError):
        add_server("purple", 1, 8080, opts)


def test_missing_slots_are_every_colour_up_to_the_count_in_order():
    from bakery.balancer.commands import missing_slots

    have = {f"{c}{i}" for c in ("blue", "green") for i in range(1, 21)}
    assert missing_slots(have, 20) == []
    assert missing_slots(have, 22) == [("blue", 21), ("blue", 22), ("green", 21), ("green", 22)]
    assert missing_slots(have - {"green3"}, 20) == [("green", 3)]


def test_add_server_answers_are_checked():
    from bakery.balancer.commands import check_answer

    check_answer("add server app/green21 127.0.0.1:8080", "New server registered.\n")
    with pytest.raises(BalancerError):
        check_answer("add server app/green21 127.0.0.1:8080", "Already exists a server with the same name.")
    check_answer("enable health app/green21", "\n")
    with pytest.raises(BalancerError):
        check_answer("enable health app/green99", "No such server.")
