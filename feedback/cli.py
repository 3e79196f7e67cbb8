"""``flask --app feedback ...`` commands. Each calls a service inside one transaction."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from .database import unit_of_work
from .services.errors import ServiceError

users_cli = AppGroup("users", help="Tài khoản cán bộ và mã API.")


def _fail(exc: ServiceError) -> None:
    lines = [exc.message, *(f"  {k}: {v}" for k, v in exc.fields.items())]
    raise click.ClickException("\n".join(lines))


@click.command("seed")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def seed_command(file: str | None) -> None:
    """Nạp dữ liệu tham chiếu (đơn vị, địa bàn, lĩnh vực, định tuyến, thời hạn, lịch)."""
    from .services.reference.loader import DEFAULT_FILE, load_reference

    try:
        with unit_of_work():
            counts = load_reference(Path(file) if file else DEFAULT_FILE)
    except ServiceError as exc:
        _fail(exc)
    changed = sum(v for k, v in counts.items() if not k.endswith(".unchanged"))
    click.echo(json.dumps({"changed": changed, "counts": counts}, ensure_ascii=False, indent=1))


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, help="operator, clerk, coordinator, officer, ...")
@click.option("--unit", "unit_code", help="Mã đơn vị, ví dụ UBND-00688")
@click.option("--password", help="Bỏ trống để hệ thống sinh mật khẩu ngẫu nhiên")
@click.option("--name", "full_name", default="")
@click.option("--email", default=None)
@with_appcontext
def users_create(
    username: str,
    role: str,
    unit_code: str | None,
    password: str | None,
    full_name: str,
    email: str | None,
) -> None:
    """Tạo tài khoản cán bộ."""
    from .services.accounts.users import create_user

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with unit_of_work():
            user = create_user(
                username,
                role,
                password,
                unit_code=unit_code,
                full_name=full_name,
                email=email,
                now=datetime.now(UTC),
            )
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"Đã tạo {user.username} ({user.role}).")
    if generated:
        click.echo(f"Mật khẩu: {password}")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="", help="Ghi chú: token dùng cho hệ thống nào")
@with_appcontext
def users_token(username: str, name: str) -> None:
    """In ra một mã API mới cho tài khoản (chỉ hiển thị một lần)."""
    from flask import current_app
    from sqlalchemy import select

    from .extensions import db
    from .models import User
    from .services.accounts.users import issue_token

    try:
        with unit_of_work():
            user = db.session.scalar(select(User).where(User.username == username.lower()))
            if user is None:
                raise click.ClickException(f"Không có tài khoản «{username}».")
            token = issue_token(user, datetime.now(UTC), name=name)
    except ServiceError as exc:
        _fail(exc)
    # The note goes to stderr first, so the token is the last line and the only one on stdout.
    ttl = current_app.config["API_TOKEN_TTL_DAYS"]
    click.echo(f"Mã có hiệu lực {ttl} ngày (API_TOKEN_TTL_DAYS).", err=True)
    click.echo(token)


def _account_command(change: str, username: str) -> None:
    """Run one account service on USERNAME by the system (the command line has no
    signed-in user); each service writes its audit record in the same transaction."""
    from .services.accounts import users

    now = datetime.now(UTC)
    try:
        with unit_of_work():
            user = users.find_user(username)
            name = user.username
            if change == "deactivate":
                changed = users.deactivate_user(user, actor=None, now=now)
                click.echo(
                    f"Đã khóa {name}: mọi phiên đăng nhập và mã API ngừng hoạt động ngay."
                    if changed
                    else f"{name} đã bị khóa từ trước; phiên và mã API (nếu còn) đã được thu hồi."
                )
            elif change == "activate":
                changed = users.activate_user(user, actor=None, now=now)
                click.echo(
                    f"Đã mở khóa {name}; cần đăng nhập lại và cấp mã API mới nếu cần."
                    if changed
                    else f"{name} vẫn đang hoạt động."
                )
            elif change == "revoke-tokens":
                count = users.revoke_tokens(user, actor=None, now=now)
                click.echo(f"Đã thu hồi {count} mã API của {name}.")
            else:
                users.end_sessions(user, actor=None, now=now)
                click.echo(f"Đã kết thúc mọi phiên đăng nhập của {name}.")
    except ServiceError as exc:
        _fail(exc)


@users_cli.command("deactivate")
@click.argument("username")
@with_appcontext
def users_deactivate(username: str) -> None:
    """Khóa tài khoản: phiên đăng nhập và mã API ngừng hoạt động ngay; lịch sử được giữ."""
    _account_command("deactivate", username)


@users_cli.command("activate")
@click.argument("username")
@with_appcontext
def users_activate(username: str) -> None:
    """Mở khóa tài khoản (đăng nhập lại; mã API cũ vẫn bị thu hồi)."""
    _account_command("activate", username)


@users_cli.command("revoke-tokens")
@click.argument("username")
@with_appcontext
def users_revoke_tokens(username: str) -> None:
    """Thu hồi mọi mã API còn hiệu lực của tài khoản."""
    _account_command("revoke-tokens", username)


@users_cli.command("end-sessions")
@click.argument("username")
@with_appcontext
def users_end_sessions(username: str) -> None:
    """Kết thúc mọi phiên đăng nhập của tài khoản (trên mọi thiết bị)."""
    _account_command("end-sessions", username)


@users_cli.command("password")
@click.argument("username")
@click.option("--password", help="Bỏ trống để hệ thống sinh mật khẩu ngẫu nhiên")
@with_appcontext
def users_password(username: str, password: str | None) -> None:
    """Đặt mật khẩu mới; mọi phiên đăng nhập đang mở của tài khoản kết thúc."""
    from .services.accounts import users

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with unit_of_work():
            user = users.find_user(username)
            users.set_password(user, password, actor=None, now=datetime.now(UTC))
            name = user.username
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"Đã đổi mật khẩu của {name}; mọi phiên đăng nhập cũ đã kết thúc.")
    if generated:
        click.echo(f"Mật khẩu: {password}")


@users_cli.command("move")
@click.argument("username")
@click.option("--unit", "unit_code", required=True, help="Mã đơn vị còn hiệu lực, ví dụ VP-HG1")
@with_appcontext
def users_move(username: str, unit_code: str) -> None:
    """Chuyển tài khoản sang đơn vị khác (còn hiệu lực), ví dụ khi đơn vị cũ không còn sau
    sắp xếp địa giới; mọi phiên đăng nhập đang mở của tài khoản kết thúc."""
    from .services.accounts import users

    try:
        with unit_of_work():
            user = users.find_user(username)
            moved = users.move_to_unit(user, unit_code, actor=None, now=datetime.now(UTC))
            name, unit = user.username, user.unit.name if user.unit else ""
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"Đã chuyển {name} sang {unit}." if moved else f"{name} đã ở {unit}.")


@users_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="In dạng JSON")
@with_appcontext
def users_list(as_json: bool) -> None:
    """Danh sách tài khoản: vai trò, đơn vị, trạng thái, lần đăng nhập cuối, số mã API
    còn hiệu lực."""
    from .services.accounts.users import list_accounts

    with unit_of_work():
        rows = list_accounts(datetime.now(UTC))
    if as_json:
        items = [
            {
                "username": r.username,
                "role": r.role,
                "unit": r.unit_code,
                "active": r.active,
                "last_login_at": r.last_login_at.isoformat() if r.last_login_at else None,
                "live_tokens": r.live_tokens,
            }
            for r in rows
        ]
        click.echo(json.dumps(items, ensure_ascii=False, indent=1))
        return
    header = ("TÀI KHOẢN", "VAI TRÒ", "ĐƠN VỊ", "TRẠNG THÁI", "ĐĂNG NHẬP CUỐI (UTC)", "MÃ API")
    table = [header] + [
        (
            r.username,
            r.role,
            r.unit_code or "-",
            "hoạt động" if r.active else "đã khóa",
            f"{r.last_login_at:%Y-%m-%d %H:%M}" if r.last_login_at else "-",
            str(r.live_tokens),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def _refuse_demo_outside_development(hint: str = "") -> None:
    """Demo accounts (every role, inspector and admin included) share the password the
    README publishes: loaded into a real deployment they would open every case to anyone.
    Refuse, with a non-zero exit, unless FEEDBACK_ENV says development or test."""
    from flask import current_app

    from .config import DEMO_ENVIRONMENTS, demo_allowed

    if demo_allowed(current_app.config):
        return
    now = current_app.config.get("FEEDBACK_ENV") or "(chưa đặt / unset)"
    allowed = " / ".join(sorted(DEMO_ENVIRONMENTS))
    raise click.ClickException(
        f"Từ chối nạp dữ liệu mẫu: các tài khoản mẫu dùng mật khẩu công khai, chỉ được nạp "
        f"khi FEEDBACK_ENV là {allowed} (hiện tại: {now}).\n"
        f"Refused to load demo data: its accounts share a published password, so it is "
        f"loaded only when FEEDBACK_ENV is {allowed} (now: {now}).{hint}"
    )


@click.command("demo")
@click.option("--password", default="demo-matkhau", show_default=True)
@with_appcontext
def demo_command(password: str) -> None:
    """Tài khoản cho mọi vai trò và vài chục hồ sơ mẫu để dùng thử (chỉ khi
    FEEDBACK_ENV=development hoặc test)."""
    from .services.demo import load_demo

    _refuse_demo_outside_development()
    try:
        with unit_of_work():
            summary = load_demo(password=password, now=datetime.now(UTC))
    except ServiceError as exc:
        _fail(exc)
    click.echo(json.dumps(summary, ensure_ascii=False, indent=1))


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Nạp dữ liệu mẫu")
@with_appcontext
def up_command(host: str, port: int, demo: bool) -> None:
    """Chuẩn bị mọi thứ rồi chạy dịch vụ: migrate, seed, demo, serve."""
    from flask import current_app
    from flask_migrate import upgrade
    from werkzeug.serving import run_simple

    from .services.demo import load_demo
    from .services.reference.loader import load_reference

    if demo:  # before anything is migrated or served
        _refuse_demo_outside_development(
            "\nKhông nạp dữ liệu mẫu / without demo data: flask --app feedback up --no-demo"
        )
    upgrade()
    with unit_of_work():
        load_reference()
    click.echo("Đã cập nhật cơ sở dữ liệu và dữ liệu tham chiếu.")
    if demo:
        with unit_of_work():
            summary = load_demo(password="demo-matkhau", now=datetime.now(UTC))
        click.echo(
            f"Dữ liệu mẫu: {summary.get('users_created', 0)} tài khoản mới; "
            "mật khẩu mọi tài khoản mẫu: demo-matkhau"
        )
    from .scheduler import start_in_process

    if start_in_process(current_app._get_current_object()):
        click.echo("Bộ lập lịch (quét thời hạn, gửi thư) đang chạy trong tiến trình này.")
    click.echo(f"Mở http://{host}:{port}/  (Ctrl+C để dừng)")
    # Flask's app.run() refuses to block inside a `flask` command; serve with Werkzeug.
    run_simple(host, port, current_app._get_current_object(), threaded=True)


@click.command("import-1022")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--user", "username", default=None, help="Tài khoản ghi nhận là người nhập")
@click.option(
    "--chunk",
    "chunk_rows",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Số dòng mỗi lần ghi (mỗi phần một giao dịch)",
)
@with_appcontext
def import_1022_command(file: str, username: str | None, chunk_rows: int) -> None:
    """Nhập một tệp CSV từ hệ thống 1022 của tỉnh (theo số phiếu: nhập lại không tạo trùng).

    Tới 200.000 dòng, ghi từng phần (mặc định 500 dòng); tiến độ in ra stderr. Bị ngắt giữa
    chừng thì chạy lại cùng lệnh: các phiếu đã nhập được bỏ qua, phần còn lại được nhập.
    In ra tóm tắt JSON; lý do từng dòng bị từ chối in ra stderr. Thoát với mã 0 cả khi có
    dòng bị từ chối; mã 1 khi chính tệp không dùng được."""
    import time

    from sqlalchemy import select

    from .extensions import db
    from .models import ImportBatch, User
    from .services.intake.import1022 import CLI_MAX_BYTES, import_in_chunks, summary

    try:
        with open(file, "rb") as handle:
            data = handle.read(CLI_MAX_BYTES + 1)
    except OSError as exc:
        raise click.ClickException(f"Không đọc được tệp «{file}»: {exc.strerror}.") from None
    actor_id = None
    if username:
        actor = db.session.scalar(select(User).where(User.username == username.lower()))
        if actor is None or not actor.active:
            raise click.ClickException(f"Không có tài khoản đang hoạt động «{username}».")
        actor_id = actor.id
    db.session.remove()  # the import opens its own transactions, one per chunk
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        percent = 100 * done // total if total else 100
        click.echo(f"{done}/{total} dòng ({percent}%), {elapsed:.1f} giây", err=True)

    try:
        batch_id = import_in_chunks(
            data,
            Path(file).name,
            actor_id=actor_id,
            now=datetime.now(UTC),
            chunk_rows=chunk_rows,
            progress=progress,
        )
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    batch = db.session.get(ImportBatch, batch_id)
    assert batch is not None
    report = batch.report
    click.echo(json.dumps(summary(batch), ensure_ascii=False, indent=1))
    click.echo(f"Lô nhập #{batch.id}: {Path(file).name}", err=True)
    if report.get("ignored_columns"):
        click.echo("Bỏ qua các cột: " + ", ".join(report["ignored_columns"]), err=True)
    for row in report.get("rejected", []):
        ticket = row.get("ticket") or "—"
        click.echo(f"Dòng {row['line']} (phiếu {ticket}):", err=True)
        for column, reason in row["errors"].items():
            click.echo(f"  {column}: {reason}", err=True)


reference_cli = AppGroup("reference", help="Dữ liệu tham chiếu theo thời gian (địa giới, đơn vị).")


@reference_cli.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "username", default=None, help="Tài khoản quản trị ghi vào nhật ký")
@with_appcontext
def reference_apply(file: str, username: str | None) -> None:
    """Áp dụng một gói dữ liệu tham chiếu từ ngày hiệu lực của nó (chạy lại không đổi gì).

    In ra JSON: số thay đổi ("changed"), các hồ sơ đang mở được chuyển đơn vị và các tài
    khoản còn thuộc đơn vị không còn (quản trị viên cần chuyển họ sang đơn vị mới)."""
    from sqlalchemy import select

    from .extensions import db
    from .models import User
    from .services.reference.packs import apply_pack

    actor = None
    if username:
        actor = db.session.scalar(select(User).where(User.username == username.lower()))
        if actor is None or not actor.active or actor.role != "admin":
            raise click.ClickException(f"Không có tài khoản quản trị đang hoạt động «{username}».")
    try:
        with unit_of_work():
            result = apply_pack(Path(file), actor=actor, now=datetime.now(UTC))
    except ServiceError as exc:
        _fail(exc)
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
    if result.retired_accounts:
        click.echo(
            f"{len(result.retired_accounts)} tài khoản còn thuộc đơn vị không còn hiệu lực: "
            "xem trang Quản trị › Dữ liệu tham chiếu, rồi chuyển họ sang đơn vị mới.",
            err=True,
        )


sla_cli = AppGroup("sla", help="Giám sát thời hạn.")
outbox_cli = AppGroup("outbox", help="Hộp thư đi.")


@sla_cli.command("sweep")
@with_appcontext
def sla_sweep() -> None:
    """Quét một lần: cảnh báo, quá hạn, báo cáo vượt cấp; in tóm tắt JSON."""
    from .services.sla.sweep import sweep

    click.echo(json.dumps(sweep(datetime.now(UTC)), ensure_ascii=False))


@outbox_cli.command("deliver")
@with_appcontext
def outbox_deliver() -> None:
    """Gửi các thư đang chờ trong hộp thư đi."""
    from .services.sla.delivery import deliver

    click.echo(json.dumps(deliver(datetime.now(UTC)), ensure_ascii=False))


@click.command("figures")
@click.option("--all", "every", is_flag=True, help="Mọi tháng có hồ sơ, không chỉ tháng đã đổi.")
@with_appcontext
def figures_command(every: bool) -> None:
    """Tổng hợp lại số liệu theo tháng cho trang số liệu (sau khi nâng cấp hoặc khôi phục,
    để lượt xem đầu tiên không phải chờ)."""
    from .services.oversight.figures import months_with_cases, rebuild, rebuild_dirty

    now = datetime.now(UTC)
    if not every:
        click.echo(json.dumps({"rebuilt": rebuild_dirty(now, limit=1000)}, ensure_ascii=False))
        return
    months = months_with_cases()
    for i, month in enumerate(months, 1):
        rebuild(month, now)
        click.echo(f"{i}/{len(months)} tháng {month[5:]}/{month[:4]}", err=True)
    click.echo(json.dumps({"rebuilt": months}, ensure_ascii=False))


@click.command("digest")
@with_appcontext
def digest_command() -> None:
    """Gửi bản tin buổi sáng cho các đơn vị (chỉ ngày làm việc)."""
    from .services.sla.digest import send_digests

    click.echo(json.dumps(send_digests(datetime.now(UTC)), ensure_ascii=False))


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Chạy bộ lập lịch như một tiến trình riêng (môi trường vận hành)."""
    import logging

    from flask import current_app

    from .scheduler import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_forever(current_app._get_current_object())


@click.command("report")
@click.option("--period", required=True, help="Kỳ báo cáo: 2023-Q3, 2023-H1 hoặc 2023")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Thư mục ghi tệp (mặc định instance/reports)",
)
@with_appcontext
def report_command(period: str, out_dir: str | None) -> None:
    """Lập báo cáo kỳ (XLSX và PDF) theo 8 chỉ số PAPI; in đường dẫn và số liệu tổng hợp."""
    from .services.reports.output import generate
    from .services.reports.period import parse_period

    try:
        parsed = parse_period(period)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    report, xlsx, pdf = generate(parsed, datetime.now(UTC), Path(out_dir) if out_dir else None)
    result = {"period": parsed.key, "xlsx": str(xlsx), "pdf": str(pdf), "totals": report.totals}
    click.echo(json.dumps(result, ensure_ascii=False, indent=1))


@click.command("backup")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Thư mục ghi bản sao (mặc định instance/backups)",
)
@with_appcontext
def backup_command(out_dir: str | None) -> None:
    """Sao lưu cơ sở dữ liệu SQLite (khi ứng dụng vẫn chạy) và các tệp đính kèm.

    Với PostgreSQL: in hướng dẫn pg_dump/pg_restore và thoát với mã 1."""
    from .services.backup import BackupError, backup

    try:
        result = backup(datetime.now(UTC), Path(out_dir) if out_dir else None)
    except BackupError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    click.echo(json.dumps(result, ensure_ascii=False, indent=1))


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Không hỏi lại (dùng trong kịch bản)")
@with_appcontext
def restore_command(file: str, yes: bool) -> None:
    """Khôi phục cơ sở dữ liệu SQLite (và tệp đính kèm) từ một bản sao lưu.

    Dừng web và bộ lập lịch trước. Trạng thái hiện tại được sao lưu thành pre-restore-*
    trước khi bị thay thế. Với PostgreSQL: in hướng dẫn và thoát với mã 1."""
    from .services.backup import BackupError, check_backup, database_path, restore

    try:
        live = database_path()
        facts = check_backup(Path(file))
    except BackupError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    if not yes:
        click.confirm(
            f"Thay toàn bộ dữ liệu của {live} bằng {file} ({facts['cases']} hồ sơ)? "
            "Web và bộ lập lịch phải đang dừng.",
            abort=True,
        )
    try:
        result = restore(Path(file), datetime.now(UTC))
    except BackupError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    click.echo(json.dumps(result, ensure_ascii=False, indent=1))


@click.command("check")
@click.option(
    "--now",
    "at",
    default=None,
    hidden=True,
    help="ISO moment to check as of (rehearsals and tests); default: now",
)
@with_appcontext
def check_command(at: str | None) -> None:
    """Kiểm tra cấu hình vận hành trước khi khởi động (khóa, phiên bản cơ sở dữ liệu, Redis,
    máy chủ thư, cổng SMS/Zalo, proxy, lịch năm tới, thư mục). Thoát mã 1 khi có lỗi.

    Validates a production configuration before start; exits 1 on any error."""
    from flask import current_app

    from .services.check import ERROR, WARNING, run_checks

    now = datetime.fromisoformat(at).astimezone(UTC) if at else datetime.now(UTC)
    findings = run_checks(current_app.config, current_app.instance_path, now)
    marks = {ERROR: "LỖI / ERROR", WARNING: "CẢNH BÁO / WARNING", "ok": "OK"}
    for finding in findings:
        click.echo(f"[{marks[finding.level]}] {finding.topic}: {finding.vi}")
        if finding.level != "ok":
            click.echo(f"    {finding.en}")
    errors = sum(f.level == ERROR for f in findings)
    warnings = sum(f.level == WARNING for f in findings)
    click.echo(f"{errors} lỗi, {warnings} cảnh báo / {errors} errors, {warnings} warnings.")
    if errors:
        raise SystemExit(1)


def register(app: Flask) -> None:
    app.cli.add_command(check_command)
    app.cli.add_command(sla_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(digest_command)
    app.cli.add_command(figures_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(up_command)
    app.cli.add_command(seed_command)
    app.cli.add_command(reference_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(import_1022_command)
    app.cli.add_command(report_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
