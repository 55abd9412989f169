"""`create_advisor_agent`: a cheap executor does the work and consults a frontier advisor only
when it chooses to, through an `ask_advisor` tool."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Checkpointer, RetryPolicy
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

import tiered_agents.attributes as attr
from tiered_agents._budget import (
    BudgetState,
    RunBudget,
    check_interrupt,
    merge_budget,
    on_budget_stop,
)
from tiered_agents._calls import (
    Call,
    Limiter,
    Steps,
    Update,
    as_tool,
    body_node,
    graph_node,
    model_call,
    require_chat,
    text_of,
)
from tiered_agents.budget import Budget
from tiered_agents.errors import BudgetStopped
from tiered_agents.retry import check_retry
from tiered_agents.tiers import Tier, check_count, check_ladder, reference_of

__all__ = ["AdvisorState", "AskAdvisor", "create_advisor_agent"]

ADVISOR_TOOL = "ask_advisor"


class AskAdvisor(BaseModel):
    """Ask a senior expert for advice. Use it when you are unsure, stuck, or about to make a
    decision that is hard to undo. Each consultation is expensive: ask one precise question."""

    question: str = Field(description="What you need to know, with the context it needs.")


def _advisor_tool() -> dict[str, Any]:
    spec = convert_to_openai_tool(AskAdvisor)
    spec["function"]["name"] = ADVISOR_TOOL
    return spec


class AdvisorState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    advisor_calls: int
    """Consultations for the current request."""
    steps: int
    """Executor turns for the current request."""
    answer: str | None
    """The executor's final answer to the current request."""
    budget: Annotated[BudgetState, merge_budget]


_EXECUTOR_PROMPT = (
    "You are a capable assistant working through a task with tools. You can consult a senior "
    f"advisor with the `{ADVISOR_TOOL}` tool when you are unsure or stuck; consultations are "
    "limited and expensive, so do the routine work yourself. When you are done, reply with "
    "your final answer without calling tools.")

_ADVISOR_PROMPT = (
    "You advise a junior colleague who is doing a task with tools. Read the task and their "
    "work so far, then answer their question precisely and briefly: what to do next and why. "
    "Do not do the whole task for them.")


def _compact(messages: Sequence[BaseMessage], limit: int) -> str:
    """The task and the work so far: the whole transcript when small, else a summary."""
    lines = [f"{m.type}: {text_of(m) or json.dumps(getattr(m, 'tool_calls', []))}"
             for m in messages]
    whole = "\n".join(lines)
    if len(whole) <= limit:
        return whole
    task = next((text_of(m) for m in messages if m.type == "human"), "")
    tools = [c["name"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    recent: list[str] = []
    budget = max(limit - len(task[:limit // 3]) - 200, 200)
    for whole_line in reversed(lines[1:]):
        line = whole_line if len(whole_line) <= 600 else whole_line[:600] + " [...]"
        if sum(len(r) for r in recent) + len(line) > budget:
            break
        recent.append(line)
    return (f"Task: {task[:limit // 3]}\n\nTools used so far ({len(tools)} calls): "
            f"{', '.join(dict.fromkeys(tools)) or 'none'}\n\nMost recent work:\n"
            + "\n".join(reversed(recent)))


class _Settings:
    def __init__(self, *, executor: Tier, advisor: Tier, tools: list[BaseTool],
                 max_advisor_calls: int, max_steps: int, system_prompt: str,
                 compact_chars: int, budget: Budget | None, retry: RetryPolicy) -> None:
        self.executor, self.advisor = executor, advisor
        self.tools, self.max_advisor_calls, self.max_steps = tools, max_advisor_calls, max_steps
        self.system_prompt, self.compact_chars, self.budget = system_prompt, compact_chars, budget
        self.retry = retry
        self.limiters = {t.name: Limiter(t.max_concurrency) for t in (executor, advisor)
                         if t.max_concurrency is not None}
        try:
            self.bound = executor.chat_model.bind_tools([*tools, _advisor_tool()])
        except NotImplementedError:
            raise ValueError(
                f"The executor tier {executor.name!r} ({executor.model_name}) cannot bind tools, "
                "which the advisor pattern needs (the executor calls `ask_advisor` as a tool). "
                "Use a model with tool calling as the executor.") from None

    def call(self, tier: Tier, runnable: Any, messages: Sequence[BaseMessage],
             config: RunnableConfig, budget: RunBudget) -> Call:
        return model_call(tier, runnable, messages, config, budget=budget,
                          limiter=self.limiters.get(tier.name), retry=self.retry)


def _new_request(state: AdvisorState) -> Update:
    """A new input on the thread: check it (before any call); the step and consultation counts
    and the answer start afresh."""
    require_chat(state, "advisor agent")
    return {"answer": None, "steps": 0, "advisor_calls": 0}


def _executor_steps(state: AdvisorState, config: RunnableConfig, s: _Settings) -> Steps[Update]:
    budget = RunBudget(s.budget, state.get("budget"), "executor")
    messages = [SystemMessage(s.system_prompt), *state["messages"]]
    reset: BudgetState = {}
    while True:
        try:
            reply = yield s.call(s.executor, s.bound, messages, config, budget)
            break
        except BudgetStopped as stop:
            resumed = on_budget_stop(s.budget, stop.reason, state=state,
                                     spent=budget.spending())
            if resumed is None:
                return {"budget": budget.update(stopped_at="executor")}
            reset = resumed
            budget = budget.resumed(reset)
    update: dict[str, Any] = {"messages": [reply], "steps": state.get("steps", 0) + 1}
    if not reply.tool_calls:
        update["answer"] = text_of(reply)
    if s.budget is not None:
        update["budget"] = {**budget.update(), **reset}
    return update


def _advisor_steps(state: AdvisorState, config: RunnableConfig, s: _Settings) -> Steps[Update]:
    last = state["messages"][-1]
    asks = [c for c in getattr(last, "tool_calls", []) if c["name"] == ADVISOR_TOOL]
    used = state.get("advisor_calls", 0)
    budget = RunBudget(s.budget, state.get("budget"), "advisor")
    replies: list[ToolMessage] = []
    stopped: str | None = None
    reset: BudgetState = {}
    history = [m for m in state["messages"][:-1]]
    for call in asks:
        question = str(call["args"].get("question", ""))
        if used >= s.max_advisor_calls:
            content = (f"No advice left: all {s.max_advisor_calls} consultations are used. "
                       "Continue on your own.")
        elif budget.downgraded or stopped:
            content = "No advice: the budget allows no more consultations. Continue on your own."
        else:
            prompt = (f"{_compact(history, s.compact_chars)}\n\nYour colleague asks: {question}")
            while True:
                try:
                    reply = yield s.call(s.advisor, s.advisor.chat_model,
                                         [SystemMessage(_ADVISOR_PROMPT), HumanMessage(prompt)],
                                         config, budget)
                    content = text_of(reply)
                    used += 1
                    break
                except BudgetStopped as stop:
                    resumed = on_budget_stop(s.budget, stop.reason, state=state,
                                             spent=budget.spending())
                    if resumed is None:  # stop, downgrade: the executor goes on alone
                        stopped = stop.reason
                        content = "No advice: the budget is spent. Continue on your own."
                        break
                    reset = resumed
                    budget = budget.resumed(reset)
        replies.append(ToolMessage(content, tool_call_id=call["id"], name=ADVISOR_TOOL))
    update: dict[str, Any] = {"messages": replies, "advisor_calls": used}
    if s.budget is not None:
        update["budget"] = {**budget.update(stopped_at="advisor" if stopped else None), **reset}
    return update


def _route(state: AdvisorState, s: _Settings) -> list[str] | str:
    if state.get("answer") is not None or ((state.get("budget") or {}).get("exceeded") and \
            s.budget is not None and s.budget.stops_calls):
        return END
    last = state["messages"][-1]
    calls = getattr(last, "tool_calls", []) or []
    if not calls or state.get("steps", 0) >= s.max_steps:
        return END
    targets = []
    if any(c["name"] == ADVISOR_TOOL for c in calls):
        targets.append("advisor")
    if any(c["name"] != ADVISOR_TOOL for c in calls):
        targets.append("tools")
    return targets


def create_advisor_agent(
    executor: Tier,
    advisor: Tier,
    *,
    tools: Sequence[BaseTool | Callable[..., Any]] = (),
    max_advisor_calls: int = 3,
    max_steps: int = 20,
    budget: Budget | None = None,
    system_prompt: str | None = None,
    compact_chars: int = 6000,
    retry_policy: RetryPolicy | None = None,
    checkpointer: Checkpointer = None,
    name: str = "advisor_agent",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a tool-calling agent on a cheap `executor` that may consult a frontier `advisor`.

    The executor runs a loop with the user's `tools` plus `ask_advisor`. Calling it sends the
    advisor a compact view of the task and the work so far (the whole transcript when it fits
    in `compact_chars`) with the executor's question, and returns the advice as the tool's
    result. After `max_advisor_calls` consultations the tool answers that no advice is left.
    The tracer attributes the advisor's tokens to an `advisor` node and prices the savings
    against the advisor's model.

    Example:
        ```python
        agent = create_advisor_agent(executor=small, advisor=frontier, tools=[search])
        out = agent.invoke({"messages": [HumanMessage("Review this NDA: ...")]})
        out["answer"], out["advisor_calls"]
        ```
    """
    if not isinstance(executor, Tier):
        raise TypeError(f"executor= needs a tiered_agents.Tier, got {type(executor).__name__}.")
    check_ladder([executor], advisor=advisor)
    check_count("max_advisor_calls", max_advisor_calls, minimum=0)
    check_count("max_steps", max_steps)
    check_count("compact_chars", compact_chars, minimum=200)
    check_interrupt(budget, checkpointer)
    user_tools = [as_tool(t) for t in tools]
    if any(t.name == ADVISOR_TOOL for t in user_tools):
        raise ValueError(f"A tool named {ADVISOR_TOOL!r} is reserved for the advisor.")
    retry = check_retry(retry_policy)
    s = _Settings(executor=executor, advisor=advisor, tools=user_tools,
                  max_advisor_calls=max_advisor_calls, max_steps=max_steps,
                  system_prompt=system_prompt or _EXECUTOR_PROMPT,
                  compact_chars=compact_chars, budget=budget, retry=retry)
    reference = reference_of(advisor)

    tool_node = ToolNode(user_tools, handle_tool_errors=True) if user_tools else None

    def user_calls(state: AdvisorState) -> dict[str, Any]:
        """The last message with only the user's tool calls (ask_advisor is the advisor's)."""
        assert tool_node is not None, "tool calls without tools"
        last = state["messages"][-1]
        assert isinstance(last, AIMessage), "tools run after an AI message with tool calls"
        calls = [c for c in last.tool_calls if c["name"] != ADVISOR_TOOL]
        return {"messages": [last.model_copy(update={"tool_calls": calls})]}

    def run_tools(state: AdvisorState, config: RunnableConfig) -> dict[str, Any]:
        assert tool_node is not None, "tools run only when there are tools"
        update: dict[str, Any] = tool_node.invoke(user_calls(state), config)
        return update

    async def arun_tools(state: AdvisorState, config: RunnableConfig) -> dict[str, Any]:
        assert tool_node is not None, "tools run only when there are tools"
        update: dict[str, Any] = await tool_node.ainvoke(user_calls(state), config)
        return update

    builder = StateGraph(AdvisorState)
    builder.add_node("executor", body_node(_executor_steps, s, "executor"),
                     metadata={attr.ROLE: "executor", attr.TIER: executor.name,
                               attr.REFERENCE: reference})
    builder.add_node("advisor", body_node(_advisor_steps, s, "advisor"),
                     metadata={attr.ROLE: "advisor", attr.TIER: advisor.name,
                               attr.REFERENCE: reference})
    builder.add_node("tools", graph_node(run_tools, arun_tools, "tools"))
    builder.add_node("request", _new_request)
    builder.add_edge(START, "request")
    builder.add_edge("request", "executor")
    builder.add_conditional_edges("executor", lambda state: _route(state, s),
                                  ["advisor", "tools", END])
    builder.add_edge("advisor", "executor")
    builder.add_edge("tools", "executor")
    return builder.compile(checkpointer=checkpointer, name=name)
