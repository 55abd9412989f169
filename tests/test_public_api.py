import tiered_agents


def test_public_api_is_pinned() -> None:
    assert sorted(tiered_agents.__all__) == [
        "Attempt",
        "Budget",
        "BudgetCallback",
        "BudgetExceeded",
        "CascadeFailedError",
        "ConfidenceVerifier",
        "CostReport",
        "CostTracker",
        "EscalationPolicy",
        "FunctionVerifier",
        "JudgeVerifier",
        "Plan",
        "PlanError",
        "Price",
        "ReplayChatModel",
        "SchemaVerifier",
        "SelfCheckVerifier",
        "Subtask",
        "SubtaskFailedError",
        "SubtaskResult",
        "Tier",
        "TieredAgentsError",
        "Usage",
        "Verdict",
        "Verifier",
        "VerifyContext",
        "calibrate",
        "configure_tracing",
        "create_advisor_agent",
        "create_cascade",
        "create_tiered_graph",
    ]
    for name in tiered_agents.__all__:
        assert getattr(tiered_agents, name) is not None


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("tiered_agents").joinpath("py.typed").is_file()
