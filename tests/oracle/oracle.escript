#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 1:1 +SDcpu 1:1 +SDio 1
%%
%% The oracle: runs scenarios of the signal semantics (links, monitors,
%% exit signals, trapping, messages, names) on BEAM and prints each one's
%% trace, exactly as the VM's interpreter (tests/guests/rust/oracle) prints
%% it, so the two can be compared line for line. The language is in
%% tests/oracle/README.md.
%%
%% escript oracle.escript FILE: FILE holds scenarios separated by blank
%% lines; each trace is printed followed by a line "===".

main([File]) ->
    %% A crashing actor's error report would interleave with the traces.
    logger:set_primary_config(level, none),
    {ok, Bin} = file:read_file(File),
    Blocks = string:split(binary_to_list(Bin), "\n\n", all),
    lists:foreach(
      fun(Block) ->
              Lines = [L || L <- string:split(Block, "\n", all), L =/= ""],
              case Lines of
                  [] -> ok;
                  _ ->
                      Trace = run(Lines),
                      lists:foreach(fun(T) -> io:format("~s~n", [T]) end, Trace),
                      io:format("===~n")
              end
      end, Blocks);
main(_) ->
    io:format(standard_error, "usage: oracle.escript FILE~n", []),
    halt(64).

%% ---------------------------------------------------------------- conductor

run(["actors " ++ N | Steps]) ->
    Count = list_to_integer(N),
    Me = self(),
    Actors = [begin
                  P = spawn(fun() -> actor(Me) end),
                  R = monitor(process, P),
                  {I, P, R}
              end || I <- lists:seq(0, Count - 1)],
    put(actors, Actors),
    put(alive, [I || {I, _, _} <- Actors]),
    put(trace, []),
    put(died, []),
    lists:foldl(fun(Step, K) -> step(string:split(Step, " ", all), K) end, 0, Steps),
    %% What each live actor has left, oldest first, then who is alive.
    lists:foreach(
      fun(I) ->
              case command(I, drain) of
                  {ok, Got} -> log(io_lib:format("~b left: ~s", [I, describe_all(Got)]));
                  {down, _} -> ok
              end
      end, get(alive)),
    settle(),
    deaths(),
    Alive = get(alive),
    lists:foreach(fun(I) -> log(io_lib:format("~b alive", [I])), exit(pid(I), kill) end, Alive),
    %% Gone before the next scenario: their names are free again.
    lists:foreach(fun(I) ->
                          P = pid(I),
                          receive {'DOWN', _, process, P, _} -> ok end
                  end, Alive),
    lists:reverse(get(trace)).

log(Line) -> put(trace, [lists:flatten(Line) | get(trace)]).

pid(I) -> {I, P, _} = lists:keyfind(I, 1, get(actors)), P.

exists(I) -> lists:keymember(I, 1, get(actors)).

index(P) ->
    case lists:keyfind(P, 2, get(actors)) of
        {I, _, _} -> integer_to_list(I);
        false -> "?"
    end.

%% One step: the acting actor does it (a dead one does nothing), then the
%% conductor waits until every signal it caused has been handled.
step([Verb, A | Args], K) ->
    I = list_to_integer(A),
    K2 = case Verb of "monitor" -> K + 1; _ -> K end,
    %% A step naming an actor not spawned (yet) does nothing.
    Named = case {Verb, Args} of
                {V, [B | _]} when V =:= "link"; V =:= "unlink"; V =:= "monitor";
                                  V =:= "exit"; V =:= "send" ->
                    exists(list_to_integer(B));
                _ -> true
            end,
    case Named andalso lists:member(I, get(alive)) of
        false -> K2;
        true ->
            Op = op(Verb, Args, K),
            case command(I, Op) of
                {ok, Result} -> result(I, Verb, Args, Result);
                {down, _} -> ok
            end,
            settle(),
            deaths(),
            K2
    end.

op("link", [B], _) -> {link, pid(list_to_integer(B))};
op("unlink", [B], _) -> {unlink, pid(list_to_integer(B))};
op("monitor", [B], K) -> {monitor, pid(list_to_integer(B)), K};
op("demonitor", [K], _) -> {demonitor, list_to_integer(K)};
op("exit", [B, R], _) -> {exit, pid(list_to_integer(B)), list_to_atom(R)};
op("trap", [B], _) -> {trap, B =:= "on"};
op("send", [B, V], _) -> {send, pid(list_to_integer(B)), list_to_integer(V)};
op("recv", [], _) -> {recv, any};
op("recv", [V], _) -> {recv, list_to_integer(V)};
op("end", [R], _) -> {'end', list_to_atom(R)};
op("crash", [], _) -> crash;
op("spawn", [L], _) -> {spawn, L =:= "link"};
op("register", [N], _) -> {register, list_to_atom(N)};
op("unregister", [N], _) -> {unregister, list_to_atom(N)};
op("sendname", [N, V], _) -> {sendname, list_to_atom(N), list_to_integer(V)}.

%% What a step's result adds to the trace.
result(_, "spawn", _, {spawned, P}) ->
    %% The next number, monitored by the conductor as the first ones are.
    Actors = get(actors),
    N = length(Actors),
    put(actors, Actors ++ [{N, P, monitor(process, P)}]),
    put(alive, get(alive) ++ [N]);
result(I, "recv", _, Got) -> log(io_lib:format("~b recv: ~s", [I, describe(Got)]));
result(I, Verb, Args, failed) ->
    log(io_lib:format("~b ~s ~s failed", [I, Verb, lists:join(" ", Args)]));
result(_, _, _, _) -> ok.

%% Sends actor I an operation and waits for its answer, or its end.
command(I, Op) ->
    P = pid(I),
    P ! {cmd, self(), Op},
    receive
        {ack, P, Result} -> {ok, Result};
        {'DOWN', _, process, P, Reason} -> died(I, Reason), {down, Reason}
    end.

%% Pings every live actor, in order, until a whole round finds them all
%% alive: every signal a step caused, and those they caused, is handled.
settle() ->
    Died = lists:filter(
             fun(I) ->
                     P = pid(I),
                     P ! {ping, self()},
                     receive
                         {pong, P} -> false;
                         {'DOWN', _, process, P, Reason} -> died(I, Reason), true
                     end
             end, get(alive)),
    case Died of
        [] -> ok;
        _ -> settle()
    end.

%% Which actors end within one step, and in which order the conductor
%% hears of them, depends on timing; the trace lists them by number once
%% the step has settled.
died(I, Reason) ->
    put(alive, lists:delete(I, get(alive))),
    put(died, [{I, reason(Reason)} | get(died)]).

deaths() ->
    lists:foreach(fun({I, R}) -> log(io_lib:format("~b died: ~s", [I, R])) end,
                  lists:sort(get(died))),
    put(died, []).

reason(normal) -> "normal";
reason(killed) -> "killed";
reason(noproc) -> "noproc";
reason({crash, _}) -> "crash";
reason(R) when is_atom(R) -> atom_to_list(R);
reason(R) -> lists:flatten(io_lib:format("~p", [R])).

describe(nothing) -> "nothing";
describe({msg, From, V}) -> io_lib:format("msg ~b from ~s", [V, index(From)]);
describe({exit, From, R}) -> io_lib:format("exit from ~s: ~s", [index(From), reason(R)]);
describe({down, K, From, R}) -> io_lib:format("down ~b of ~s: ~s", [K, index(From), reason(R)]).

describe_all([]) -> "nothing";
describe_all(Got) -> lists:join(", ", [describe(G) || G <- Got]).

%% ------------------------------------------------------------------- actor

actor(C) ->
    receive
        {ping, C} -> C ! {pong, self()}, actor(C);
        {cmd, C, Op} -> do(C, Op), actor(C)
    end.

ack(C, Result) -> C ! {ack, self(), Result}.

do(C, {link, P}) ->
    ack(C, try link(P), ok catch error:noproc -> failed end);
do(C, {unlink, P}) -> unlink(P), ack(C, ok);
do(C, {monitor, P, K}) ->
    Ref = monitor(process, P),
    put({mon, K}, Ref),
    put({ref, Ref}, K),
    ack(C, ok);
do(C, {demonitor, K}) ->
    %% The VM's demonitor also removes a down already queued: [flush].
    case get({mon, K}) of
        undefined -> ok;
        Ref -> demonitor(Ref, [flush])
    end,
    ack(C, ok);
do(C, {exit, P, R}) -> exit(P, R), ack(C, ok);
do(C, {trap, On}) -> process_flag(trap_exit, On), ack(C, ok);
do(C, {send, P, V}) -> P ! {msg, self(), V}, ack(C, ok);
do(C, {recv, any}) ->
    ack(C, receive M -> got(M) after 0 -> nothing end);
do(C, {recv, V}) ->
    ack(C, receive {msg, From, V} -> {msg, From, V} after 0 -> nothing end);
do(C, drain) -> ack(C, drain([]));
do(C, {'end', R}) -> ack(C, ok), exit(R);
do(C, crash) -> ack(C, ok), erlang:error(crash);
do(C, {spawn, true}) -> ack(C, {spawned, spawn_link(fun() -> actor(C) end)});
do(C, {spawn, false}) -> ack(C, {spawned, spawn(fun() -> actor(C) end)});
do(C, {register, N}) ->
    ack(C, try register(N, self()), ok catch error:badarg -> failed end);
do(C, {unregister, N}) ->
    ack(C, try unregister(N), ok catch error:badarg -> failed end);
do(C, {sendname, N, V}) ->
    case whereis(N) of
        undefined -> ack(C, failed);
        P -> P ! {msg, self(), V}, ack(C, ok)
    end.

got({msg, From, V}) -> {msg, From, V};
got({'EXIT', From, R}) -> {exit, From, R};
got({'DOWN', Ref, process, From, R}) -> {down, get({ref, Ref}), From, R}.

drain(Acc) ->
    receive M -> drain([got(M) | Acc]) after 0 -> lists:reverse(Acc) end.
