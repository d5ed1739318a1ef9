//! `vm:host/mailbox`: send, selective receive, and reading the current message.

use super::{bytes, bytes_mut, list_u32, list_u64, memory, spec, write_result, Ctx};
use crate::mailbox::{Filter, Message};
use crate::process::ProcessState;
use std::time::Duration;
use vm_abi::{Envelope, ErrorCode, HandleKind, MessageKind};
use wasmtime::Linker;

pub(crate) fn add(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    let send = spec("mailbox", "send");
    let m = send.module;
    linker.func_wrap(
        m,
        "send",
        move |mut caller: Ctx<'_>,
              target: u64,
              tag: u64,
              ptr: u32,
              len: u32,
              hptr: u32,
              hlen: u32,
              ret: u32|
              -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = send_message(state, mem, target, tag, (ptr, len), (hptr, hlen));
            write_result(mem, send, ret, result)
        },
    )?;

    let receive = spec("mailbox", "receive");
    linker.func_wrap_async(
        m,
        "receive",
        move |caller: Ctx<'_>, (tptr, tlen, kinds, has_timeout, timeout, ret): (u32, u32, u32, u32, u64, u32)| {
            let select = Select { tags: (tptr, tlen), kinds, timeout: (has_timeout, timeout) };
            Box::new(receive_message(caller, receive, select, None, ret))
        },
    )?;

    let receive_into = spec("mailbox", "receive-into");
    linker.func_wrap_async(
        m,
        "receive-into",
        move |caller: Ctx<'_>,
              (tptr, tlen, kinds, has_timeout, timeout, dst, len, ret): ReceiveIntoArgs| {
            let select = Select {
                tags: (tptr, tlen),
                kinds,
                timeout: (has_timeout, timeout),
            };
            Box::new(receive_message(
                caller,
                receive_into,
                select,
                Some((dst, len)),
                ret,
            ))
        },
    )?;

    let read = spec("mailbox", "read");
    linker.func_wrap(
        m,
        "read",
        move |mut caller: Ctx<'_>, dst: u32, len: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = match &mut state.current {
                None => Err(state.fail(
                    ErrorCode::NotFound,
                    "there is no current message: receive one first",
                )),
                Some((msg, pos)) => {
                    let n = (msg.data.len() - *pos).min(len as usize);
                    match bytes_mut(mem, dst, n as u32) {
                        Ok(out) => {
                            out.copy_from_slice(&msg.data[*pos..*pos + n]);
                            *pos += n;
                            Ok(n as u32)
                        }
                        Err(code) => Err(state.fail(
                            code,
                            format!("buffer at {dst} of {len} bytes lies outside memory"),
                        )),
                    }
                }
            };
            write_result(mem, read, ret, result)
        },
    )?;

    let take = spec("mailbox", "take-handle");
    linker.func_wrap(
        m,
        "take-handle",
        move |mut caller: Ctx<'_>, index: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = take_handle(state, index, None);
            write_result(mem, take, ret, result)
        },
    )?;
    let take_as = spec("mailbox", "take-handle-as");
    linker.func_wrap(
        m,
        "take-handle-as",
        move |mut caller: Ctx<'_>, index: u32, kind: u32, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = match u8::try_from(kind).ok().and_then(HandleKind::from_raw) {
                Some(kind) => take_handle(state, index, Some(kind)),
                None => Err(state.fail(
                    ErrorCode::InvalidArgument,
                    format!("take-handle-as: {kind} is no handle kind this VM knows"),
                )),
            };
            write_result(mem, take_as, ret, result)
        },
    )?;

    linker.func_wrap(m, "fresh-tag", |caller: Ctx<'_>| -> wasmtime::Result<u64> {
        super::not_in_realloc(&caller)?;
        Ok(caller.data().node.fresh_ref())
    })?;

    let forget_tag = spec("mailbox", "forget-tag");
    linker.func_wrap(
        m,
        "forget-tag",
        move |mut caller: Ctx<'_>, tag: u64, ret: u32| -> wasmtime::Result<()> {
            super::not_in_realloc(&caller)?;
            let (mem, state) = memory(&mut caller)?;
            let result = match state.process.forget_tag(tag) {
                Ok(()) => Ok(()),
                Err(refusal) => Err(state.fail(
                    ErrorCode::LimitReached,
                    refusal.explain(&format!("forgetting tag {tag}")),
                )),
            };
            write_result(mem, forget_tag, ret, result)
        },
    )?;
    Ok(())
}

/// `receive-into`'s core parameters: the tag list, kinds, optional timeout,
/// the buffer and the return pointer.
type ReceiveIntoArgs = (u32, u32, u32, u32, u64, u32, u32, u32);

/// Moves handle number `index` of the current message into the process's
/// table, if it is there and (given `kind`) of that kind; otherwise it stays
/// in the message and the error says why, including when the receive that
/// made this message current closed the one before's untaken handles.
fn take_handle(
    state: &mut ProcessState,
    index: u32,
    kind: Option<HandleKind>,
) -> Result<u32, ErrorCode> {
    let slot = state.current_resources.get_mut(index as usize);
    let found = slot
        .as_ref()
        .and_then(|r| r.as_ref())
        .map(|r| (r.abi_kind(), r.kind()));
    if let (Some(want), Some((is, words))) = (kind, found) {
        if want != is {
            return Err(state.fail(
                ErrorCode::InvalidArgument,
                format!(
                    "handle number {index} of the current message is {words}, not a {}; it stays in the message",
                    want.name().replace('-', " ")
                ),
            ));
        }
    }
    match state
        .current_resources
        .get_mut(index as usize)
        .and_then(Option::take)
    {
        Some(r) => state.handles.insert(r).map_err(|(r, refusal)| {
            // Left in the message, to take after making room.
            state.current_resources[index as usize] = Some(r);
            let text = refusal.explain(&format!("taking handle number {index}"));
            state.fail(ErrorCode::LimitReached, text)
        }),
        None => {
            let mut text = format!("the current message has no handle number {index} left to take");
            // Only for an index the current message never had: one taken
            // already, or out of a message's range, is another mistake.
            let beyond = index as usize >= state.current_resources.len();
            if let (true, Some(closed)) = (beyond, &state.closed_untaken) {
                text.push_str(": ");
                text.push_str(closed);
                text.push_str(" (take a message's handles before the next receive)");
            }
            Err(state.fail(ErrorCode::InvalidHandle, text))
        }
    }
}

/// Which message a receive selects, as the guest passed it: the tag list's
/// address and length, the kinds, and the optional timeout.
struct Select {
    tags: (u32, u32),
    kinds: u32,
    timeout: (u32, u64),
}

/// `receive` and `receive-into`: waits for the selected message, makes it the
/// current one and, given a buffer, copies its first bytes there. Arguments
/// are checked before waiting, so a bad one takes no message.
async fn receive_message(
    mut caller: Ctx<'_>,
    spec: &'static vm_abi::FunctionSpec,
    select: Select,
    dst: Option<(u32, u32)>,
    ret: u32,
) -> wasmtime::Result<()> {
    super::not_in_realloc(&caller)?;
    let (mem, state) = memory(&mut caller)?;
    let tags = match list_u64(state, mem, select.tags.0, select.tags.1) {
        Ok(t) => t,
        Err(code) => return write_result(mem, spec, ret, Err::<Envelope, _>(code)),
    };
    if let Some((ptr, len)) = dst {
        if let Err(code) = bytes(mem, ptr, len) {
            let code = state.fail(
                code,
                format!("buffer at {ptr} of {len} bytes lies outside memory"),
            );
            return write_result(mem, spec, ret, Err::<Envelope, _>(code));
        }
    }
    // Bits a newer minor may add are ignored, so a set of only those is as
    // empty as 0: no message could ever match, and the wait would never end.
    if select.kinds & 0b1111 == 0 {
        let code = state.fail(
            ErrorCode::InvalidArgument,
            format!(
                "receive was given no message kinds to wait for ({:#x}), so no message could ever match: pass a set such as data (1) or data | down (5)",
                select.kinds
            ),
        );
        return write_result(mem, spec, ret, Err::<Envelope, _>(code));
    }
    let filter = Filter {
        tags,
        kinds: select.kinds as u8,
    };
    let (has_timeout, nanos) = select.timeout;
    let timeout = (has_timeout != 0).then(|| Duration::from_nanos(nanos));
    // Exit signals that came first are received first; stale downs and
    // forgotten tags are dropped on the way (the kernel's rules).
    let received = caller.data_mut().process.receive(&filter, timeout).await;
    let (mem, state) = memory(&mut caller)?;
    let Some(mut msg) = received else {
        let code = state.fail(
            ErrorCode::Timeout,
            "no matching message arrived before the timeout",
        );
        return write_result(mem, spec, ret, Err::<Envelope, _>(code));
    };
    if msg.kind == MessageKind::Init && msg.sender != state.id {
        // A capture is its spawner's to pay for until the child takes it;
        // from now on it is the child's.
        match state.entry.budget().charge_receiver(msg.cost(), false) {
            Ok(charge) => msg.charge = charge,
            Err(refusal) => wasmtime::bail!(
                "mailbox limit exceeded: {}",
                refusal.explain(&format!("taking its capture of {} bytes", msg.data.len()))
            ),
        }
    }
    let envelope = Envelope {
        kind: msg.kind as u8,
        tag: msg.tag,
        sender: msg.sender,
        size: msg.data.len() as u32,
        handles: msg.resources.len() as u32,
    };
    // Memory only grows, so the buffer checked before waiting is still inside it.
    let copied = match dst {
        Some((ptr, len)) => {
            let n = msg.data.len().min(len as usize);
            bytes_mut(mem, ptr, n as u32)
                .expect("checked before waiting")
                .copy_from_slice(&msg.data[..n]);
            n
        }
        None => 0,
    };
    state.set_current(msg, copied);
    write_result(mem, spec, ret, Ok(envelope))
}

fn send_message(
    state: &mut ProcessState,
    mem: &[u8],
    target: u64,
    tag: u64,
    data: (u32, u32),
    handles: (u32, u32),
) -> Result<(), ErrorCode> {
    let handle_list = list_u32(state, mem, handles.0, handles.1)?;
    if !handle_list.is_empty() && state.node.is_remote(target) {
        return Err(state.fail(
            ErrorCode::InvalidArgument,
            format!(
                "process {target:#x} is on another node, and handles (sockets, modules) cannot leave theirs: nothing was sent or moved"
            ),
        ));
    }
    let message = message_from_guest(state, mem, tag, data, handles)?;
    state
        .node
        .send_from_guest(target, message)
        .map_err(|refused| {
            // Nothing is lost: the handles go back where they were.
            let mut m = refused.message;
            for (h, r) in handle_list.iter().zip(m.resources.drain(..)) {
                state.handles.restore(*h, r);
            }
            let text = refused
                .refusal
                .explain(&format!("sending a message of {} bytes", m.data.len()));
            state.fail(ErrorCode::LimitReached, text)
        })
}

/// A data message from this process, its bytes and handles given in guest
/// memory; the handles leave the process's table (all or none).
pub(crate) fn message_from_guest(
    state: &mut ProcessState,
    mem: &[u8],
    tag: u64,
    (ptr, len): (u32, u32),
    (hptr, hlen): (u32, u32),
) -> Result<Message, ErrorCode> {
    let data = bytes(mem, ptr, len).map_err(|c| {
        state.fail(
            c,
            format!("message at {ptr} of {len} bytes lies outside memory"),
        )
    })?;
    let data = crate::mailbox::Payload::from_slice(data);
    let handles = list_u32(state, mem, hptr, hlen)?;
    if let Some(h) = state.handles.still_active(&handles) {
        return Err(state.fail(
            ErrorCode::InvalidArgument,
            format!("handle {h} is an active read half, which cannot move: make it passive first (net.set-active with count 0)"),
        ));
    }
    let resources = state.handles.take_all(&handles).map_err(|h| {
        state.fail(
            ErrorCode::InvalidHandle,
            format!("handle {h} is not owned by this process (or is listed twice)"),
        )
    })?;
    Ok(Message::data(state.id, tag, data, resources))
}
