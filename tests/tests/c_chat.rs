//! The C chat room (examples/c/chat.c) driven by real TCP clients: the Rust
//! chat's conversation, then what the C one answers for on its own: many
//! clients, long lines and its line limit, a client that resets its
//! connection, and a writer that crashes, which the room's monitor removes
//! while everyone else goes on.

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use vm_tests::{
    c_guest, chat_conversation, open_connections, start_server, start_server_on, test_vm,
    until_open_connections, wait_for, ChatClient, Server,
};

/// The longest line chat.c takes, in bytes before its newline
/// (CHAT_MAX_LINE).
const MAX_LINE: usize = 4096;

/// Whether the connection has ended: at its end, or reset (a server that
/// closes a socket with bytes unread resets it).
async fn ended(client: &mut ChatClient) -> bool {
    !matches!(client.next_line().await, Ok(Some(_)))
}

/// The room's log of members it removed on their writers' down messages
/// ("chat: client PID left (REASON)"), once it holds `n` lines (it must
/// hold no more).
async fn departures(server: &Server, n: usize) -> Vec<String> {
    let left = wait_for(|| {
        let left: Vec<String> = server
            .vm
            .captured_stderr()
            .lines()
            .filter(|l| l.contains(" left ("))
            .map(String::from)
            .collect();
        (left.len() >= n).then_some(left)
    })
    .await;
    assert_eq!(left.len(), n, "{left:?}");
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_chat_holds_the_rust_chats_conversation() {
    chat_conversation(&start_server(&c_guest("chat")).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_four_clients_hear_every_line_in_order_and_long_lines_whole() {
    let server = start_server(&c_guest("chat")).await;
    let count = || server.vm.process_count();
    let mut names: Vec<String> = (0..23).map(|i| format!("c{i}")).collect();
    names.push("zoë".into());
    let mut clients = BTreeMap::new();
    for name in &names {
        clients.insert(name.clone(), ChatClient::join(&server.address, name).await);
    }
    // The root, the room, and a reader and a writer per member.
    wait_for(|| (count() == 2 + 2 * 24).then_some(())).await;
    assert_eq!(open_connections(&server.address), ["ESTABLISHED"; 24]);

    // Three lines each, all sent before any is read: everyone hears every
    // other client's lines, each client's in order, and not its own.
    let said = |name: &str, k: usize| format!("{name} says {k} ✓");
    for (name, client) in clients.iter_mut() {
        for k in 0..3 {
            client.say(&said(name, k)).await;
        }
    }
    for (me, client) in clients.iter_mut() {
        let mut heard: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for _ in 0..3 * 23 {
            let line = client.next().await;
            let (who, text) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("{me} got {line:?}"));
            heard.entry(who.into()).or_default().push(text.into());
        }
        let expected: BTreeMap<String, Vec<String>> = names
            .iter()
            .filter(|name| *name != me)
            .map(|name| (name.clone(), (0..3).map(|k| said(name, k)).collect()))
            .collect();
        assert_eq!(heard, expected, "what {me} heard");
    }

    // Five 2,000-byte lines in one write, more than the reader's buffer
    // holds: some reach it split across reads, and each arrives whole.
    let long = |k: usize| {
        (0..2000)
            .map(|i| char::from(b'a' + ((i * 7 + k) % 26) as u8))
            .collect::<String>()
    };
    let burst: String = (0..5).map(|k| long(k) + "\n").collect();
    let c0 = clients.get_mut("c0").unwrap();
    c0.write.write_all(burst.as_bytes()).await.unwrap();
    for (name, client) in clients.iter_mut().filter(|(name, _)| *name != "c0") {
        for k in 0..5 {
            assert_eq!(client.next().await, format!("c0: {}", long(k)), "{name}");
        }
    }

    // A line written in pieces, each sent on its own, arrives as one (and
    // a "\r" before its newline is dropped).
    let c1 = clients.get_mut("c1").unwrap();
    for piece in ["in ", "three ", "pieces\r\n"] {
        c1.write.write_all(piece.as_bytes()).await.unwrap();
        c1.write.flush().await.unwrap();
    }
    for (name, client) in clients.iter_mut().filter(|(name, _)| *name != "c1") {
        assert_eq!(client.next().await, "c1: in three pieces", "{name}");
    }
    // The longest line the chat takes arrives whole.
    let longest = "y".repeat(MAX_LINE);
    clients.get_mut("c2").unwrap().say(&longest).await;
    for (name, client) in clients.iter_mut().filter(|(name, _)| *name != "c2") {
        assert_eq!(client.next().await, format!("c2: {longest}"), "{name}");
    }

    // One byte more, and its sender is told why and disconnected; so is a
    // client whose line is not UTF-8. No one hears either line.
    let mut c3 = clients.remove("c3").unwrap();
    c3.say(&"z".repeat(MAX_LINE + 1)).await;
    assert_eq!(
        c3.next().await,
        "* line too long (the limit is 4096 bytes); bye"
    );
    assert!(ended(&mut c3).await);
    let mut c4 = clients.remove("c4").unwrap();
    c4.write.write_all(b"caf\xe9\n").await.unwrap();
    assert_eq!(c4.next().await, "* that line is not UTF-8; bye");
    assert!(ended(&mut c4).await);
    wait_for(|| (count() == 2 + 2 * 22).then_some(())).await;
    let left = departures(&server, 2).await;
    assert!(
        left.iter().all(|l| l.contains("left (exit: hung up)")),
        "{left:?}"
    );
    clients.get_mut("c5").unwrap().say("after them").await;
    for (name, client) in clients.iter_mut().filter(|(name, _)| *name != "c5") {
        assert_eq!(client.next().await, "c5: after them", "{name}");
    }

    // All leave: every process of theirs ends, every socket closes.
    drop(clients);
    until_open_connections(&server.address, 0).await;
    wait_for(|| (count() == 2).then_some(())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_resets_mid_line_while_lines_queue_for_it_disturbs_no_one() {
    let server = start_server(&c_guest("chat")).await;
    let count = || server.vm.process_count();
    let mut ada = ChatClient::join(&server.address, "ada").await;
    let mut bob = ChatClient::join(&server.address, "bob").await;
    let mut eve = ChatClient::join(&server.address, "eve").await;
    wait_for(|| (count() == 8).then_some(())).await;

    // Eve starts a line and stops reading while 200 KB of lines are sent
    // to her (and to Bob, who reads them).
    eve.write.write_all(b"half a li").await.unwrap();
    let line = |i: usize| format!("{i:03} {}", "x".repeat(1000));
    for i in 0..200 {
        ada.say(&line(i)).await;
    }
    for i in 0..200 {
        assert_eq!(bob.next().await, format!("ada: {}", line(i)));
    }
    // Then her connection is reset (SO_LINGER 0): her reader's read or her
    // writer's write fails, whichever comes first, and their link ends the
    // other.
    let ChatClient { lines, write } = eve;
    let stream = lines.into_inner().into_inner().reunite(write).unwrap();
    let stream = stream.into_std().unwrap();
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
    wait_for(|| (count() == 6).then_some(())).await;
    until_open_connections(&server.address, 2).await;
    // The room's monitor saw her writer end.
    let left = departures(&server, 1).await;
    assert!(
        left[0].contains("left (exit: disconnected)")
            || left[0].contains("left (exit: write failed: "),
        "{left:?}"
    );

    // No one heard her half line, and the others talk on.
    ada.say("still here").await;
    assert_eq!(bob.next().await, "ada: still here");
    bob.say("me too").await;
    assert_eq!(ada.next().await, "bob: me too");

    drop(ada);
    drop(bob);
    until_open_connections(&server.address, 0).await;
    wait_for(|| (count() == 2).then_some(())).await;
}

/// A client that stops reading leaves the lines for it queued in its
/// writer's mailbox; past the VM's bound for one process (--max-mailbox)
/// the writer ends with reason trap, as a crash does. The link ends its
/// reader, the room's monitor removes it, and the others go on, missing
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_crashes_is_dropped_by_the_rooms_monitor_and_the_rest_go_on() {
    let vm = test_vm().max_processes(1024).max_mailbox(256 * 1024);
    let server = start_server_on(vm, &c_guest("chat"), &["127.0.0.1:0"]).await;
    let count = || server.vm.process_count();
    // A small receive buffer, so that its socket soon takes no more.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(server.address.parse().unwrap())
        .await
        .unwrap();
    let sloth = ChatClient::join_over(stream, "sloth").await;
    let mut ada = ChatClient::join(&server.address, "ada").await;
    let mut bob = ChatClient::join(&server.address, "bob").await;
    wait_for(|| (count() == 8).then_some(())).await;

    // Ada talks in batches of 50 lines, and Bob reads each batch before
    // the next, so only the sloth's writer falls behind, until it ends.
    let line = |i: usize| format!("{i:05} {}", "z".repeat(1000));
    let mut sent = 0;
    while count() == 8 {
        assert!(
            sent < 20_000,
            "the writer of a client that reads nothing never overflowed"
        );
        for i in sent..sent + 50 {
            ada.say(&line(i)).await;
        }
        for i in sent..sent + 50 {
            assert_eq!(bob.next().await, format!("ada: {}", line(i)));
        }
        sent += 50;
    }
    wait_for(|| (count() == 6).then_some(())).await;
    // The room heard the writer's down, and why: a trap, at the bound.
    let left = departures(&server, 1).await;
    assert!(
        left[0].contains("left (trap: ") && left[0].contains("limit"),
        "{left:?}"
    );

    // Bob missed nothing, and a newcomer joins the conversation.
    ada.say("still here").await;
    assert_eq!(bob.next().await, "ada: still here");
    let mut cy = ChatClient::join(&server.address, "cy").await;
    wait_for(|| (count() == 8).then_some(())).await;
    cy.say("hello").await;
    assert_eq!(ada.next().await, "cy: hello");
    assert_eq!(bob.next().await, "cy: hello");
    bob.say("welcome").await;
    assert_eq!(ada.next().await, "bob: welcome");
    assert_eq!(cy.next().await, "bob: welcome");

    drop((sloth, ada, bob, cy));
    until_open_connections(&server.address, 0).await;
    wait_for(|| (count() == 2).then_some(())).await;
}
