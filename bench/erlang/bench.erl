%% The benchmarks in Erlang/OTP, for side-by-side runs with the VM and tokio.
%% erl -noshell -pa DIR -s bench main MODE N -s init stop
%% prints one line: RESULT <value> <unit>
-module(bench).
-export([main/1, sleeper/0, hibernating/0]).

main([Mode, NAtom]) ->
    N = list_to_integer(atom_to_list(NAtom)),
    {Value, Unit} = run(Mode, N),
    io:format("RESULT ~.3f ~s~n", [float(Value), Unit]).

now_ns() -> erlang:monotonic_time(nanosecond).

run(spawn, N) ->
    Self = self(),
    T0 = now_ns(),
    lists:foreach(fun(_) ->
        spawn(fun() -> Self ! done end),
        receive done -> ok end
    end, lists:seq(1, N)),
    {(now_ns() - T0) / N / 1000, "us"};
run(pingpong, N) ->
    Pong = spawn(fun pong/0),
    T0 = now_ns(),
    ping(Pong, N),
    Elapsed = now_ns() - T0,
    Pong ! stop,
    {Elapsed / N, "ns"};
run(remote_pingpong, N) ->
    %% Two nodes on this machine, distribution over loopback, as
    %% `erl -name` users run them; the pong on the peer node.
    {Peer, Node} = start_peer(),
    Pong = spawn(Node, fun pong/0),
    ping(Pong, 100),
    T0 = now_ns(),
    ping(Pong, N),
    Elapsed = now_ns() - T0,
    Pong ! stop,
    peer:stop(Peer),
    {Elapsed / N, "ns"};
run(remote_spawn, N) ->
    %% spawn(Node, Fun) on a peer node, each answering its spawner, as
    %% `spawn` locally.
    {Peer, Node} = start_peer(),
    Self = self(),
    Once = fun() -> spawn(Node, fun() -> Self ! done end), receive done -> ok end end,
    [Once() || _ <- lists:seq(1, 10)],
    T0 = now_ns(),
    [Once() || _ <- lists:seq(1, N)],
    Elapsed = now_ns() - T0,
    peer:stop(Peer),
    {Elapsed / N / 1000, "us"};
run(nodedown, _) ->
    %% How long until a node whose OS process was killed is known down.
    {_Peer, Node} = start_peer(),
    erlang:monitor_node(Node, true),
    OsPid = erpc:call(Node, os, getpid, []),
    T0 = now_ns(),
    os:cmd("kill -9 " ++ OsPid),
    receive {nodedown, Node} -> ok end,
    {(now_ns() - T0) / 1000000, "ms"};
run(ring, Hops) ->
    Size = 1000,
    Self = self(),
    First = lists:foldl(fun(_, Next) -> spawn(fun() -> ring_node(Next) end) end, Self, lists:seq(1, Size - 1)),
    T0 = now_ns(),
    First ! {token, Hops},
    ring_wait(First),
    {(now_ns() - T0) / Hops, "ns"};
run(counting, N) ->
    Self = self(),
    Counter = spawn(fun() -> count(0, N, Self) end),
    T0 = now_ns(),
    lists:foreach(fun(I) -> Counter ! {n, I} end, lists:seq(1, N)),
    receive counted -> ok end,
    {(now_ns() - T0) / N, "ns"};
run(hostcall, N) ->
    T0 = now_ns(),
    selfs(N),
    {(now_ns() - T0) / N, "ns"};
run(idle, N) ->
    garbage_collect(),
    Before = rss(),
    Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
    timer:sleep(200),
    After = rss(),
    [P ! stop || P <- Pids],
    {(After - Before) / N / 1024, "KiB"};
run(hibernated, N) ->
    garbage_collect(),
    Before = rss(),
    Pids = [spawn(fun() -> erlang:hibernate(?MODULE, hibernating, []) end) || _ <- lists:seq(1, N)],
    [until_hibernated(P) || P <- Pids],
    After = rss(),
    [P ! stop || P <- Pids],
    {(After - Before) / N / 1024, "KiB"};
run(wake, N) ->
    Sleeper = spawn(fun sleeper/0),
    T0 = now_ns(),
    wake(Sleeper, N),
    Elapsed = now_ns() - T0,
    Sleeper ! stop,
    {Elapsed / N, "ns"}.

%% Returns once P has hibernated (its current function is hibernate/3).
until_hibernated(P) ->
    case erlang:process_info(P, current_function) of
        {current_function, {erlang, hibernate, 3}} -> ok;
        _ -> erlang:yield(), until_hibernated(P)
    end.

%% Waits hibernated; any message ends it.
hibernating() ->
    receive _ -> ok end.

%% Answers each caller, hibernating in between (erlang:hibernate/3).
sleeper() ->
    receive
        {wake, From} -> From ! woke, erlang:hibernate(?MODULE, sleeper, []);
        stop -> ok
    end.

wake(_, 0) -> ok;
wake(Sleeper, N) ->
    Sleeper ! {wake, self()},
    receive woke -> wake(Sleeper, N - 1) end.

start_peer() ->
    Dir = filename:dirname(code:which(?MODULE)),
    {ok, Peer, Node} = peer:start(#{name => pong, host => "127.0.0.1", longnames => true,
                                    args => ["-pa", Dir, "-setcookie", atom_to_list(erlang:get_cookie())]}),
    {Peer, Node}.

pong() ->
    receive
        {ping, From, I} -> From ! {pong, I}, pong();
        stop -> ok
    end.

ping(_, 0) -> ok;
ping(Pong, N) ->
    Pong ! {ping, self(), N},
    receive {pong, N} -> ping(Pong, N - 1) end.

ring_node(Next) ->
    receive
        {token, 0} = T -> Next ! T, ring_node(Next);
        {token, H} -> Next ! {token, H - 1}, ring_node(Next)
    end.

ring_wait(First) ->
    receive
        {token, 0} -> ok;
        {token, H} -> First ! {token, H - 1}, ring_wait(First)
    end.

count(N, N, Parent) -> Parent ! counted;
count(I, N, Parent) -> receive {n, _} -> count(I + 1, N, Parent) end.

selfs(0) -> ok;
selfs(N) -> _ = self(), selfs(N - 1).

rss() ->
    {ok, Status} = file:read_file("/proc/" ++ os:getpid() ++ "/status"),
    [Line] = [L || L <- binary:split(Status, <<"\n">>, [global]), binary:part(L, 0, min(6, byte_size(L))) =:= <<"VmRSS:">>],
    [_, Kb | _] = binary:split(Line, [<<" ">>, <<"\t">>], [global, trim_all]),
    binary_to_integer(Kb) * 1024.
