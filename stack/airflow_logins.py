"""The Airflow logins, in the FAB auth manager's user tables: `operator` (Admin) and `monitor` (Viewer).

Airflow runs the FAB auth manager (apache-airflow-providers-fab) natively and on compose: passwords are
stored hashed in the metadata database (werkzeug's scrypt), roles and permissions are FAB's. The monitor
also has the project's `Reports` role: read access to the plugin list, without which FAB hides the
plugin's links (monitoring report, dbt docs, GX data docs) from a Viewer's navigation. `.env` is the
source of truth for both passwords: `ensure_logins` creates each login that is missing and puts back the
roles, the active flag and the password `.env` says, so it is idempotent and a password changed in
`.env` applies at the next start. Other logins, made in the UI (Security → Users) or with
`airflow users create`, are left alone.

Run with Airflow's configuration in the environment, after `airflow db migrate` (which makes FAB's tables):

    AIRFLOW_OPERATOR_PASSWORD=… AIRFLOW_MONITOR_PASSWORD=… python -m stack.airflow_logins

(compose's airflow-init does so; natively `stack.builds.airflow_logins` runs it when `.env` changed).
"""

from __future__ import annotations

import os
import sys

AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
REPORTS_ROLE = "Reports"
# The project's own role, added to FAB's built-in ones: (FAB action, FAB resource) pairs.
PROJECT_ROLES = [{"role": REPORTS_ROLE, "perms": [("can_read", "Plugins")]}]
# login -> (its FAB roles, the `.env` key holding its password)
LOGINS = {
    "operator": (("Admin",), "AIRFLOW_OPERATOR_PASSWORD"),
    "monitor": (("Viewer", REPORTS_ROLE), "AIRFLOW_MONITOR_PASSWORD"),
}


def ensure_logins(passwords: dict[str, str]) -> list[str]:
    """Make each login of LOGINS match `passwords` (login -> password); what changed, one line each."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    changed = []
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        sm.bulk_sync_roles(PROJECT_ROLES)  # idempotent: adds what is missing
        for username, (role_names, _) in LOGINS.items():
            roles = [sm.find_role(name) for name in role_names]
            if None in roles:
                raise RuntimeError(f"FAB lacks a role of {role_names}: was `airflow db migrate` run?")
            password = passwords[username]
            user = sm.find_user(username=username)
            if user is None:
                sm.add_user(username, username, "shop-warehouse", f"{username}@localhost", roles, password)
                changed.append(f"{username}: created ({', '.join(role_names)})")
                continue
            if not sm.check_password(username, password):
                sm.reset_password(user.id, password)
                changed.append(f"{username}: password set from .env")
            if sorted(r.name for r in user.roles) != sorted(role_names) or not user.active:
                user.roles, user.active = roles, True
                sm.update_user(user)
                changed.append(f"{username}: roles {', '.join(role_names)}, active")
    return changed


def main() -> int:
    missing = [key for _, key in LOGINS.values() if not os.environ.get(key)]
    if missing:
        print(f"stack.airflow_logins: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    changed = ensure_logins({name: os.environ[key] for name, (_, key) in LOGINS.items()})
    print("Airflow logins:", "; ".join(changed) or "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
