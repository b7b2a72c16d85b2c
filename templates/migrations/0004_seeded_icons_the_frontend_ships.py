"""Point the seeded templates' ``icon_url`` at icons the web frontend ships.

The frontend serves these under ``/icons/templates/`` from its own origin:
preprocessing_agent.svg, sk_learn_agent.svg, statsmodel.svg, plotly.svg, matplotlib.svg,
seaborn.svg, polars.svg, numpy.svg, scipy.png, xgboost.png, lightgbm.png, pymc.png,
data-cleaning.png, feature-engineering.png. Five of the six names 0002 seeded are not
among them. A value an administrator has changed since is left alone.
"""

from django.db import migrations

# agent name -> (icon seeded by 0002, icon the frontend ships)
ICONS = {
    "preprocessing_agent": ("/icons/templates/preprocessing.svg", "/icons/templates/preprocessing_agent.svg"),
    "statistical_analytics_agent": ("/icons/templates/statistical_analytics.svg", "/icons/templates/statsmodel.svg"),
    "sk_learn_agent": ("/icons/templates/sk_learn.svg", "/icons/templates/sk_learn_agent.svg"),
    "data_viz_agent": ("/icons/templates/data_viz.svg", "/icons/templates/plotly.svg"),
    "feature_engineering_agent": (
        "/icons/templates/feature_engineering.svg",
        "/icons/templates/feature-engineering.png",
    ),
    "polars_agent": ("/icons/templates/polars.svg", "/icons/templates/polars.svg"),
}


def _move(apps, *, forward: bool) -> None:
    AgentTemplate = apps.get_model("agent_templates", "AgentTemplate")
    for name, (seeded, shipped) in ICONS.items():
        old, new = (seeded, shipped) if forward else (shipped, seeded)
        AgentTemplate.objects.filter(owner=None, name__in=[name, f"planner_{name}"], icon_url=old).update(icon_url=new)


def forwards(apps, schema_editor):
    _move(apps, forward=True)


def backwards(apps, schema_editor):
    _move(apps, forward=False)


class Migration(migrations.Migration):
    dependencies = [("agent_templates", "0003_session_template_preferences")]

    operations = [migrations.RunPython(forwards, backwards)]
