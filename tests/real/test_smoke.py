from tests.real.world import World


def test_world_comes_up(world: World) -> None:
    nodes = world.cluster.get("/api/v1/nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["gremlin-1", "gremlin-2", "gremlin-3", "gremlin-4"]
    rows = world.helm_cmd("list", "-A", "-o", "json").stdout
    assert "arc-runner-set" in rows
